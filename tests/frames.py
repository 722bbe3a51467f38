"""The sockets' frames checked against clients/asyncapi.yaml.

`tests/conftest.py` passes every frame a test receives through `check_server_frame`, so the
whole WebSocket suite shows the document describes what the server sends.
"""

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

DOCUMENT_PATH = Path(__file__).resolve().parents[1] / "clients" / "asyncapi.yaml"
_URI = "urn:futurefitness:asyncapi"
_CHANNELS = [
    ("events", re.compile(r"^/ws/events/$")),
    ("chat", re.compile(r"^/ws/ai/chat/[^/]+/$")),
]


@cache
def document() -> dict:
    return yaml.safe_load(DOCUMENT_PATH.read_text())


def _pointer(ref: str) -> str:
    assert ref.startswith("#/"), ref
    return ref[1:]


def resolve(node: dict) -> tuple[dict, str]:
    """Follows `$ref`s inside the document: (the node, its JSON pointer)."""
    pointer = ""
    while "$ref" in node:
        pointer = _pointer(node["$ref"])
        node = document()
        for part in pointer.strip("/").split("/"):
            node = node[part]
    return node, pointer


@cache
def _registry() -> Registry:
    return Registry().with_resource(_URI, Resource(contents=document(), specification=DRAFT7))


def validator(pointer: str) -> Draft7Validator:
    return Draft7Validator(
        {"$ref": f"{_URI}#{pointer}"}, registry=_registry(), format_checker=FormatChecker()
    )


def channel_of(path: str) -> str | None:
    return next((name for name, pattern in _CHANNELS if pattern.match(path)), None)


def messages(channel: str, action: str) -> dict[str, str]:
    """{frame type: pointer of its payload} of what the server sends (`send`) or takes
    (`receive`) on a channel."""
    found: dict[str, str] = {}
    for operation in document()["operations"].values():
        if (
            operation["action"] != action
            or resolve(operation["channel"])[1] != f"/channels/{channel}"
        ):
            continue
        for reference in operation["messages"]:
            message, pointer = resolve(reference)
            payload = message["payload"]
            for variant in payload.get("oneOf", [payload]):
                found[variant["properties"]["type"]["const"]] = f"{pointer}/payload"
    return found


def check_server_frame(path: str, frame: Any) -> None:
    """Raises AssertionError unless `frame` is a documented frame of the socket at `path`.
    Paths with no socket answer only the `error` frame."""
    channel = channel_of(path)
    known = (
        messages(channel, "send") if channel else {"error": "/components/messages/error/payload"}
    )
    kind = frame.get("type") if isinstance(frame, dict) else None
    assert kind in known, f"{path}: frame type {kind!r} is not in {DOCUMENT_PATH.name}"
    problems = [error.message for error in validator(known[kind]).iter_errors(frame)]
    assert not problems, f"{path}: {kind} frame does not match {DOCUMENT_PATH.name}: {problems}"


def client_frame_problems(channel: str, frame: Any) -> list[str]:
    """What the document finds wrong with a frame a client sends ([] when valid)."""
    kind = frame.get("type", "message") if isinstance(frame, dict) else None
    known = messages(channel, "receive")
    if kind not in known:
        return [f"type {kind!r} is not sent by clients"]
    return [error.message for error in validator(known[kind]).iter_errors(frame)]


def job_finished_payload(job_id: Any) -> dict:
    """A `job.finished` event's payload as `ai_assistant.recognition.jobs.job_event` makes
    it, for tests that push an event without running a job."""
    return {
        "job_id": str(job_id),
        "kind": "food_recognition",
        "status": "failed",
        "result": None,
        "error": {"code": "ai_unavailable", "message": "No model.", "details": {}},
        "food_log_id": None,
    }
