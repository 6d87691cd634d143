"""A real HTTP server on 127.0.0.1 (a thread) serving files the test sets, recording every request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"


@contextmanager
def serve() -> Iterator[FileServer]:
    holder: list[FileServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            files = holder[0]
            files.requests.append(self.path)
            body = files.files.get(self.path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(FileServer(server))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
