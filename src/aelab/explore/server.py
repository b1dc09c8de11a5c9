"""`aelab explore --serve`: the page with decoding done in Python, for decoders the page cannot run.

Bound to 127.0.0.1 only. Two routes, matched as exact strings (GET / and POST /decode): no
part of a request is ever used as a file path, and nothing is written anywhere. A request
whose Host is not this server (DNS rebinding) or whose Origin is another site is refused
with 403, so other pages open in the browser cannot use it.
"""

from __future__ import annotations

import json
import math
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import torch

from aelab.errors import AelabError
from aelab.explore.decoder_spec import b64_float32
from aelab.explore.page import build_pages, render
from aelab.explore.page_data import ExploreOptions, RunPage

HOST = "127.0.0.1"
MAX_BODY_BYTES = 4 * 2**20
MAX_CODES = 64  # codes per request: a walk strip or a dragged path


class ExploreServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, pages: list[RunPage], port: int = 0):
        super().__init__((HOST, port), ExploreHandler)
        self.pages = pages
        self.html = render(pages, server=True).encode("utf-8")
        self.allowed_hosts = {f"{HOST}:{self.port}", f"localhost:{self.port}"}

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def decode(self, body: dict) -> dict:
        """{"run": i, "codes": [[...], ...]} -> {"images": [base64 float32 (C*H*W), ...]}."""
        index, codes = body.get("run"), body.get("codes")
        if not isinstance(index, int) or not 0 <= index < len(self.pages):
            raise ValueError(f"run must be an index below {len(self.pages)}")
        ctx = self.pages[index].ctx
        if not isinstance(codes, list) or not 1 <= len(codes) <= MAX_CODES:
            raise ValueError(f"codes must be a list of 1 to {MAX_CODES} codes")
        if not all(isinstance(c, list) and len(c) == ctx.code_dim and all(_finite(v) for v in c) for c in codes):
            raise ValueError(f"each code must be {ctx.code_dim} finite numbers")
        images = ctx.decode(torch.tensor(codes, dtype=torch.float32))
        return {"images": [b64_float32(image.flatten().numpy()) for image in images]}


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class ExploreHandler(BaseHTTPRequestHandler):
    server: ExploreServer

    def do_GET(self) -> None:
        if self.refused():
            return
        if urlsplit(self.path).path != "/":
            return self.reply(404, b"not found", "text/plain")
        self.reply(200, self.server.html, "text/html; charset=utf-8")

    def do_POST(self) -> None:
        if self.refused():
            return
        if urlsplit(self.path).path != "/decode":
            return self.reply(404, b"not found", "text/plain")
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return self.reply(415, b"send application/json", "text/plain")
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY_BYTES:
            return self.reply(413, b"body too large or empty", "text/plain")
        try:
            answer = self.server.decode(json.loads(self.rfile.read(length)))
        except (ValueError, TypeError) as err:
            return self.reply(400, str(err).encode(), "text/plain")
        self.reply(200, json.dumps(answer).encode(), "application/json")

    def refused(self) -> bool:
        """403 for a Host that is not this server, or an Origin (or fetch site) of another page."""
        origin = self.headers.get("Origin")
        host_ok = self.headers.get("Host") in self.server.allowed_hosts
        origin_ok = origin is None or (origin.startswith("http://") and urlsplit(origin).netloc in self.server.allowed_hosts)
        site_ok = self.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
        if host_ok and origin_ok and site_ok:
            return False
        self.reply(403, b"refused: only pages served by this explorer may use it", "text/plain")
        return True

    def reply(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass


def make_server(run_dirs: list[str | Path], options: ExploreOptions | None = None, port: int = 0) -> ExploreServer:
    try:
        return ExploreServer(build_pages(run_dirs, options or ExploreOptions(), in_page_decoder=False), port)
    except OSError as err:
        raise AelabError(f"cannot listen on {HOST}:{port} ({err}): choose another --port, or 0 for any free one.") from None
