"""The in-process HTTP stand-ins (Firebase's certificates, Gemini, Sentry, an OTLP
collector) serve from a daemon thread each, started here."""

import threading
from socketserver import BaseServer

# `serve_forever` looks for `shutdown()` once a poll interval, 0.5 s by default: each
# stand-in's stop waited that long, half a second of every Firebase token test.
POLL_SECONDS = 0.02


def serve(server: BaseServer) -> threading.Thread:
    """`server` serving from a daemon thread, started; `server.shutdown()` stops it."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True
    )
    thread.start()
    return thread
