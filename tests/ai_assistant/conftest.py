"""Fixtures for AI tests. Typical use (recognition, form check and chat reuse it as is):

def test_something(auth_client, gemini):
    gemini.reply_json({...})                  # or .error(429, "RESOURCE_EXHAUSTED", ...),
    response = auth_client.post(...)          #    .stream([...]), .hang(s), .prompt_blocked()
    assert gemini.requests[0].generation_config["responseMimeType"] == "application/json"
"""

import pytest

from tests.ai_assistant.gemini_standin import GeminiStandIn

STANDIN_KEY = "standin-secret-key-0123456789"


@pytest.fixture(autouse=True)
def _no_ai_configured(settings):
    """No test reaches a real provider: without the `gemini` fixture there is no key."""
    settings.GEMINI_API_KEY = ""
    settings.GEMINI_BASE_URL = ""


@pytest.fixture
def gemini(settings):
    """A scripted Gemini on 127.0.0.1 and settings that point the real SDK at it.

    Backoff is shortened (the retry logic is what is tested, not the waiting) and the
    timeout kept short enough for a `hang()` to trip it quickly.
    """
    standin = GeminiStandIn(api_key=STANDIN_KEY).start()
    settings.GEMINI_API_KEY = STANDIN_KEY
    settings.GEMINI_BASE_URL = standin.url
    settings.AI_SERVICE = {
        **settings.AI_SERVICE,
        "RETRY": {"max_attempts": 3, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05},
        "TIMEOUT_SECONDS": 2.0,
    }
    yield standin
    standin.stop()
    assert standin.unscripted == 0, "the code under test made a request no test scripted"


@pytest.fixture
def private_media(settings, tmp_path):
    """Photos the tests store go to a folder of their own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings.MEDIA_ROOT


@pytest.fixture
def recognition_policy(settings):
    """No task-level retries unless a test asks for them."""
    settings.AI_RECOGNITION = {**settings.AI_RECOGNITION, "MAX_RETRIES": 0}
    return settings.AI_RECOGNITION
