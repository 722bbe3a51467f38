# The AI tests' Gemini stand-in and media folder, for the scenario that crosses into AI.
from tests.ai_assistant.conftest import gemini, private_media, recognition_policy  # noqa: F401
