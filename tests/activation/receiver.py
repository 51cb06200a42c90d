"""A real HTTP receiver on 127.0.0.1 (random port) that plays a destination.

It keeps every request it got (body and headers) and, like a well-behaved destination,
keeps each message once by its id: `unique` is what it holds "in effect". It can be told
to fail the next N requests, to answer a status, to hold requests for a while, or to hold
every request after the first `hold_after` until `release()` (`holding`: how many it holds).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Received:
    """What the receiver got."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    unique: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates: int = 0


class Receiver:
    """A threaded HTTP server; use as a context manager."""

    def __init__(self, *, delay: float = 0.0, hold_after: int | None = None) -> None:
        self.got = Received()
        self.fail_next = 0
        self.fail_status = 503
        self.delay = delay
        self.hold_after = hold_after
        self.holding = 0
        self._arrived = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status = receiver._take(body, dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    @property
    def prefix(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def release(self) -> None:
        """Let the held requests (and every later one) through."""
        self._released.set()

    def _hold(self) -> None:
        with self._lock:
            self._arrived += 1
            held = self.hold_after is not None and self._arrived > self.hold_after
            self.holding += held
        if held:
            self._released.wait()
            with self._lock:
                self.holding -= 1

    def _take(self, body: bytes, headers: dict[str, str]) -> int:
        self._hold()
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.got.requests.append({"status": self.fail_status, "headers": headers, "body": None})
                return self.fail_status
            doc = json.loads(body)
            self.got.requests.append({"status": 200, "headers": headers, "body": doc, "raw": body})
            for message in doc["messages"]:
                if message["id"] in self.got.unique:
                    self.got.duplicates += 1
                else:
                    self.got.unique[message["id"]] = message
            return 200

    def messages(self, type_: str | None = None) -> list[dict[str, Any]]:
        """The distinct messages received (of one type), in arrival order."""
        with self._lock:
            return [m for m in self.got.unique.values() if type_ is None or m["type"] == type_]

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
