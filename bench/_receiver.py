"""A destination for the activation benchmark: a plain HTTP server in its own process.

POST: a batch of messages (JSON); it counts them, keeps each id once, and notes the arrival
time of every message whose template is `welcome` (the trigger latency probe).
GET /stats: {"requests", "messages", "unique", "arrivals": {recipient: unix time}}.
The first line on stdout is the port it listens on.

    python bench/_receiver.py
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_lock = threading.Lock()
_seen: set[bytes] = set()
_stats: dict[str, Any] = {"requests": 0, "messages": 0, "arrivals": {}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        now = time.time()
        doc = json.loads(body)
        with _lock:
            _stats["requests"] += 1
            for message in doc["messages"]:
                _stats["messages"] += 1
                _seen.add(hashlib.blake2b(message["id"].encode(), digest_size=8).digest())
                if message.get("template") == "welcome":
                    _stats["arrivals"].setdefault(message["recipient"], now)
        self._answer(b"{}")

    def do_GET(self) -> None:
        with _lock:
            out = json.dumps({**_stats, "unique": len(_seen)}).encode()
        self._answer(out)

    def _answer(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: Any) -> None:
        return


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
