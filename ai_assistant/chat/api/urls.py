from django.urls import path

from ai_assistant.api import coach_views as views

urlpatterns = [
    path("chat/start", views.StartChatView.as_view(), name="ai-chat-start"),
    path("chat/<uuid:session>/msg", views.ChatMessageView.as_view(), name="ai-chat-message"),
    path("chat/<uuid:session>/history", views.ChatHistoryView.as_view(), name="ai-chat-history"),
    path("chat/<uuid:session>", views.ChatView.as_view(), name="ai-chat"),
    path(
        "recommendations/food",
        views.FoodRecommendationsView.as_view(),
        name="ai-recommendations-food",
    ),
    path(
        "recommendations/workout",
        views.WorkoutRecommendationsView.as_view(),
        name="ai-recommendations-workout",
    ),
]
