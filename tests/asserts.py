"""The one check of the error envelope (DESIGN.md): every test that expects an error uses it."""

from typing import Any


def assert_error_envelope(body: Any, code: str) -> dict:
    """`body` is exactly `{"error": {"code", "message", "details"}}` with this code, a
    human message and a details object; returns the `error` object. WebSocket error
    frames carry the same object under `error`, next to their `type`."""
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert isinstance(error["details"], dict), error
    return error


def assert_error(response, status: int, code: str) -> dict:
    """An HTTP response carrying only the error envelope, with this status and code;
    returns the `error` object for further checks on its details."""
    assert response.status_code == status, getattr(response, "content", response)
    body = response.json()
    assert set(body) == {"error"}, body
    return assert_error_envelope(body, code)
