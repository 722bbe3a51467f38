from ai_assistant.providers.base import (
    AIProvider,
    Blob,
    Generation,
    GenerationRequest,
    Message,
    Part,
    Usage,
)

__all__ = ["AIProvider", "Blob", "Generation", "GenerationRequest", "Message", "Part", "Usage"]
