import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fitness.settings")

from fitness.observability.tracing import configure_tracing

# Before Django builds its middleware chain, which the Django instrumentation joins.
configure_tracing("fitness-api")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from fitness.asgi_body_limit import RequestBodyLimit  # noqa: E402
from fitness.observability.websockets import WebSocketObserver  # noqa: E402
from fitness.routing import websocket_urlpatterns  # noqa: E402
from fitness.startup import require_real_secret_key  # noqa: E402
from fitness.ws import AllowedHostsOrNoOriginValidator, JWTAuthMiddleware  # noqa: E402
from rollout.middleware import AppVersionGateWebSocketMiddleware  # noqa: E402

require_real_secret_key()

application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(django_asgi_app),
        "websocket": AllowedHostsOrNoOriginValidator(
            AppVersionGateWebSocketMiddleware(
                JWTAuthMiddleware(
                    WebSocketObserver(URLRouter(websocket_urlpatterns), websocket_urlpatterns)
                )
            )
        ),
    }
)
