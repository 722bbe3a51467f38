from django.urls import path

from ai_assistant.chat.api import views

urlpatterns = [
    path("chat/start", views.StartChatView.as_view(), name="ai-chat-start"),
    path("chat/<uuid:session>/msg", views.ChatMessageView.as_view(), name="ai-chat-message"),
    path("chat/<uuid:session>/history", views.ChatHistoryView.as_view(), name="ai-chat-history"),
    path("chat/<uuid:session>", views.ChatView.as_view(), name="ai-chat"),
]
