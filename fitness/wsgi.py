import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fitness.settings")

application = get_wsgi_application()

from fitness.startup import require_real_secret_key  # noqa: E402

require_real_secret_key()
