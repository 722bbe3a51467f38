"""The project's URLs plus a plain Django view (no DRF) that needs the cache."""

from django.core.cache import cache
from django.http import JsonResponse
from django.urls import path

from fitness.urls import handler404, handler500
from fitness.urls import urlpatterns as project_urlpatterns

__all__ = ["handler404", "handler500", "urlpatterns"]


def plain_view(request):
    return JsonResponse({"value": cache.get("anything")})


urlpatterns = [path("api/v1/plain-django-view", plain_view), *project_urlpatterns]
