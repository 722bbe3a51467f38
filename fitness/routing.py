from django.urls import path, re_path

from ai_assistant.chat.consumers import ChatConsumer
from fitness.consumers import EventsConsumer, UnknownPathConsumer

websocket_urlpatterns = [
    path("ws/events/", EventsConsumer.as_asgi()),
    path("ws/ai/chat/<str:session>/", ChatConsumer.as_asgi()),
    # Last: whatever no route above matched answers a not_found frame and closes 4404.
    re_path(r"", UnknownPathConsumer.as_asgi()),
]
