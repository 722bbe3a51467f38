from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.api.urls import auth_urlpatterns, users_urlpatterns
from ai_assistant.urls import root_urlpatterns as ai_root_urlpatterns
from fitness.api import health
from fitness.observability.metrics import metrics_view
from social.api.urls import groups_urlpatterns
from social.api.urls import users_urlpatterns as social_users_urlpatterns

api_v1 = [
    path("auth/", include(auth_urlpatterns)),
    path("users/", include(users_urlpatterns)),
    path("users/", include(social_users_urlpatterns)),
    path("", include(groups_urlpatterns)),
    path("", include(ai_root_urlpatterns)),  # /food/analyze, /workouts/form-check
    path("food/", include("food.api.urls")),
    path("", include("workouts.api.urls")),
    path("ai/", include("ai_assistant.urls")),
    path("storage/", include("storage.api.urls")),
    path("migration/", include("migration.api.urls")),
    path("", include("rollout.api.urls")),
    path("", include("sync.api.urls")),
    path("analytics/", include("analytics.api.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Before the admin's own URLs, which would otherwise answer it with a 404.
    path(f"{settings.ADMIN_URL}dashboard/", include("analytics.dashboard_urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]

handler404 = "fitness.api.errors.handler404"
handler500 = "fitness.api.errors.handler500"
