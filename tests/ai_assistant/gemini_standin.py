"""A stand-in for the Gemini REST API (generativelanguage.googleapis.com) on 127.0.0.1.

The real `google-genai` SDK is pointed at it through `GEMINI_BASE_URL`, so tests exercise the
SDK's real wire format instead of a mock of our own code. Each test scripts the replies in
order (`reply_json`, `error`, `stream`, ...) and then asserts on `requests`, the requests the
stand-in received. A request that arrives when nothing is scripted gets a 500 and is counted
in `unscripted`, which the fixture checks after the test.

It speaks what the SDK uses:
- `POST /{version}/models/{model}:generateContent` → one `GenerateContentResponse`;
- `POST /{version}/models/{model}:streamGenerateContent?alt=sse` → server-sent events, one
  `GenerateContentResponse` chunk per `data:` line, sent as separate HTTP chunks;
- failures as Google's error body `{"error": {"code", "message", "status", "details"}}`;
- the key in `x-goog-api-key`: a key other than `api_key` gets Google's own
  400 INVALID_ARGUMENT / API_KEY_INVALID answer, as the real service does.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.http_threads import serve

_PATH = re.compile(r"^/(?P<version>v1(?:beta)?)/models/(?P<model>[^/:]+):(?P<action>\w+)$")
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


@dataclass
class RecordedRequest:
    method: str
    path: str
    version: str
    model: str
    action: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def text(self) -> str:
        """All text parts the request sent, user turns and system instruction alike."""
        chunks = [
            part.get("text", "")
            for content in self.body.get("contents", [])
            for part in content.get("parts", [])
        ]
        system = self.body.get("systemInstruction") or {}
        chunks += [part.get("text", "") for part in system.get("parts", [])]
        return "\n".join(chunks)

    @property
    def generation_config(self) -> dict[str, Any]:
        return self.body.get("generationConfig", {})


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    events: list[dict[str, Any]] | None = None  # server-sent events instead of one body
    drop: bool = False  # close the connection without answering


def usage(prompt: int = 12, output: int = 34, thoughts: int = 0) -> dict[str, int]:
    metadata = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output + thoughts,
    }
    if thoughts:
        metadata["thoughtsTokenCount"] = thoughts
    return metadata


def candidate_response(
    text: str | None,
    *,
    finish_reason: str = "STOP",
    usage_metadata: dict[str, int] | None = None,
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"finishReason": finish_reason, "index": 0}
    if text is not None:
        candidate["content"] = {"parts": [{"text": text}], "role": "model"}
    return {
        "candidates": [candidate],
        "usageMetadata": usage_metadata or usage(),
        "responseId": "standin-response",
    }


def google_error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


def error_info(reason: str, **metadata: str) -> dict[str, Any]:
    return {
        "@type": _ERROR_INFO,
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com", **metadata},
    }


INVALID_KEY_BODY = google_error(
    400,
    "INVALID_ARGUMENT",
    "API key not valid. Please pass a valid API key.",
    [error_info("API_KEY_INVALID")],
)


class GeminiStandIn:
    def __init__(self, api_key: str = "standin-test-key", port: int = 0) -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.unscripted = 0
        self.max_in_flight = 0  # the most requests it was answering at one time
        self._in_flight = 0
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> GeminiStandIn:
        self._thread = serve(self._server)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- scripting ------------------------------------------------------------------------
    def enqueue(self, reply: Reply) -> None:
        with self._lock:
            self._replies.append(reply)

    def reply_json(self, data: Any, **kwargs: Any) -> None:
        """A successful structured answer: `data` serialised as the candidate's text."""
        self.reply_text(json.dumps(data), **kwargs)

    def reply_text(self, text: str | None, *, delay: float = 0.0, **response_kwargs: Any) -> None:
        self.enqueue(Reply(body=candidate_response(text, **response_kwargs), delay=delay))

    def reply_raw(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.enqueue(Reply(status=status, body=body, headers=headers or {}))

    def error(
        self,
        code: int,
        status: str,
        message: str = "Scripted failure.",
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.reply_raw(code, google_error(code, status, message, details), headers)

    def prompt_blocked(self, reason: str = "SAFETY") -> None:
        """The prompt itself was refused: no candidates, `promptFeedback.blockReason`."""
        self.enqueue(
            Reply(
                body={
                    "promptFeedback": {"blockReason": reason},
                    "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
                }
            )
        )

    def stream(
        self,
        chunks: list[str],
        *,
        usage_metadata: dict[str, int] | None = None,
        finish_reason: str = "STOP",
        then_error: dict[str, Any] | None = None,
    ) -> None:
        """Chunks as server-sent events; `then_error` (a `google_error`) breaks off after them."""
        events = [
            {"candidates": [{"content": {"parts": [{"text": chunk}], "role": "model"}, "index": 0}]}
            for chunk in chunks
        ]
        if then_error is None:
            events[-1]["candidates"][0]["finishReason"] = finish_reason
            events[-1]["usageMetadata"] = usage_metadata or usage()
        else:
            events.append(then_error)
        self.enqueue(Reply(events=events))

    def hang(self, seconds: float) -> None:
        """Answers only after `seconds`: longer than the client's timeout, it is a timeout."""
        self.enqueue(Reply(body=candidate_response("{}"), delay=seconds))

    def drop_connection(self) -> None:
        self.enqueue(Reply(drop=True))

    # --- serving --------------------------------------------------------------------------
    def _next_reply(self) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
            self.unscripted += 1
        return Reply(
            status=500,
            body=google_error(500, "INTERNAL", "The stand-in has no scripted reply."),
        )

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _busy(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta
            self.max_in_flight = max(self.max_in_flight, self._in_flight)


def _handler_for(standin: GeminiStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

        def do_POST(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            match = _PATH.match(split.path)
            if match is None:
                self._send_json(404, google_error(404, "NOT_FOUND", "No such method."))
                return
            standin._record(
                RecordedRequest(
                    method="POST",
                    path=split.path,
                    version=match["version"],
                    model=match["model"],
                    action=match["action"],
                    query=parse_qs(split.query),
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=json.loads(raw) if raw else {},
                )
            )
            if self.headers.get("x-goog-api-key") != standin.api_key:
                self._send_json(400, INVALID_KEY_BODY)
                return
            reply = standin._next_reply()
            standin._busy(+1)
            try:
                self._answer(reply, model=match["model"])
            finally:
                standin._busy(-1)

        def _answer(self, reply: Reply, *, model: str) -> None:
            # Like Gemini, every answer names the model that produced it.
            for body in reply.events or [reply.body]:
                if isinstance(body, dict) and "error" not in body:
                    body.setdefault("modelVersion", model)
            if reply.delay:
                time.sleep(reply.delay)
            try:
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif reply.events is not None:
                    self._send_events(reply.events)
                else:
                    self._send_json(reply.status, reply.body, reply.headers)
            except (BrokenPipeError, ConnectionResetError, OSError):
                self.close_connection = True  # the client gave up (e.g. its timeout)

        def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _send_events(self, events: list[dict[str, Any]]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in events:
                data = f"data: {json.dumps(event)}\r\n\r\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

    return Handler
