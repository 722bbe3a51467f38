from django.urls import path

from ai_assistant.chat.consumers import ChatConsumer
from fitness.consumers import EventsConsumer

websocket_urlpatterns = [
    path("ws/events/", EventsConsumer.as_asgi()),
    path("ws/ai/chat/<str:session>/", ChatConsumer.as_asgi()),
]
