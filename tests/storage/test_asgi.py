import json

from fitness.asgi_body_limit import RequestBodyLimit, max_request_bytes
from tests.asserts import assert_error_envelope


def http_scope(path="/api/v1/storage/upload", headers=()):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }


class Recorder:
    def __init__(self, messages=()):
        self.incoming = list(messages)
        self.sent = []
        self.reads = 0

    async def receive(self):
        self.reads += 1
        return self.incoming.pop(0) if self.incoming else {"type": "http.disconnect"}

    async def send(self, message):
        self.sent.append(message)

    @property
    def status(self):
        return next(m["status"] for m in self.sent if m["type"] == "http.response.start")

    @property
    def json(self):
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


async def test_request_body_limit_refuses_declared_length_without_reading(settings):
    settings.STORAGE_MAX_UPLOAD_BYTES = 1024 * 1024
    from fitness.asgi import application

    too_long = str(max_request_bytes() + 1).encode()
    io = Recorder([{"type": "http.request", "body": b"x", "more_body": True}])

    await application(http_scope(headers=[(b"content-length", too_long)]), io.receive, io.send)

    assert io.status == 413
    assert_error_envelope(io.json, "payload_too_large")
    assert io.reads == 0


async def test_request_body_limit_stops_undeclared_body_past_limit(settings):
    settings.STORAGE_MAX_UPLOAD_BYTES = 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    limit = max_request_bytes()
    chunk = b"x" * 32 * 1024
    chunks = [{"type": "http.request", "body": chunk, "more_body": True}] * (
        limit // len(chunk) + 2
    )
    io = Recorder(chunks)
    seen = []

    async def downstream(scope, receive, send):
        while (message := await receive())["type"] == "http.request":
            seen.append(len(message["body"]))
        seen.append(message["type"])

    await RequestBodyLimit(downstream)(http_scope(), io.receive, io.send)

    assert io.status == 413
    assert seen[-1] == "http.disconnect"
    assert sum(seen[:-1]) <= limit


async def test_request_body_limit_passes_small_bodies_through():
    io = Recorder([{"type": "http.request", "body": b"{}", "more_body": False}])
    seen = []

    async def downstream(scope, receive, send):
        seen.append(await receive())

    await RequestBodyLimit(downstream)(
        http_scope(headers=[(b"content-length", b"2")]), io.receive, io.send
    )

    assert seen == [{"type": "http.request", "body": b"{}", "more_body": False}]
    assert io.sent == []
