import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fitness.settings")

from fitness.observability.tracing import configure_tracing

# Before Django builds its middleware chain, which the Django instrumentation joins.
configure_tracing("fitness-api")

application = get_wsgi_application()

from fitness.startup import require_real_secret_key  # noqa: E402

require_real_secret_key()
