"""The AI endpoints, one urls module per feature. `urlpatterns` are mounted at /api/v1/ai/;
`root_urlpatterns` at /api/v1/, where the plan puts them (/food/analyze,
/workouts/form-check)."""

from django.urls import include, path

from ai_assistant.formcheck.api import urls as formcheck
from ai_assistant.recognition.api import urls as recognition

urlpatterns = [
    path("", include("ai_assistant.recognition.api.urls")),
    path("", include("ai_assistant.chat.api.urls")),
    path("", include("ai_assistant.recommendations.api.urls")),
]

root_urlpatterns = [
    path("", include(recognition.root_urlpatterns)),
    path("", include(formcheck.root_urlpatterns)),
]
