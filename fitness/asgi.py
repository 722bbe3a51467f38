import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fitness.settings")

from fitness.observability.tracing import configure_tracing

# Before Django builds its middleware chain, which the Django instrumentation joins.
configure_tracing("fitness-api")

# Django must be set up before anything imports models (as get_asgi_application does).
django.setup(set_prefix=False)

from fitness.asgi_handler import OneHopASGIHandler  # noqa: E402

django_asgi_app = OneHopASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from fitness.asgi_body_limit import RequestBodyLimit  # noqa: E402
from fitness.observability.websockets import WebSocketObserver  # noqa: E402
from fitness.routing import websocket_urlpatterns  # noqa: E402
from fitness.startup import require_real_secret_key  # noqa: E402
from fitness.ws import AllowedHostsOrNoOriginValidator, JWTAuthMiddleware  # noqa: E402
from rollout.middleware import AppVersionGateWebSocketMiddleware  # noqa: E402

require_real_secret_key()

# Every view module, loaded now rather than at the first request, so that it is frozen too.
import fitness.urls  # noqa: E402, F401

# What is loaded by now lives as long as the process. Frozen, the cyclic garbage collector
# stops walking it at every older-generation collection: that walk was about a fifth of
# the CPU of a workout-list request (bench/profile_request.py).
gc.freeze()
# A list page allocates tens of thousands of short-lived containers (rows, rendered
# dicts), and at the default threshold (700) the collector ran every few dozen rows: about
# 3% of a list request's instructions (bench/profile_request.py under callgrind). Almost
# all of it is freed by reference counting anyway; the collector is for cycles.
gc.set_threshold(50_000, 20, 20)

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
