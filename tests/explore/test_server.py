"""`aelab explore --serve`: bound to 127.0.0.1, two exact routes, refuses other origins and
hosts, never opens a path from a request, and decodes as PyTorch does."""

from __future__ import annotations

import base64
import http.client
import json
import threading

import numpy as np
import pytest
import torch

from aelab.explore.server import HOST, make_server
from tests.explore.browser import floats, open_page
from tests.explore.conftest import needs_chromium


@pytest.fixture(scope="module")
def server(explore_runs):
    srv = make_server([explore_runs["vector"]])
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def request(srv, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, srv.port, timeout=30)
    data = None if body is None else json.dumps(body).encode()
    base = {"Content-Type": "application/json"} if body is not None else {}
    connection.request(method, path, body=data, headers=base | (headers or {}))
    reply = connection.getresponse()
    return reply.status, reply.read()


def test_it_listens_on_the_loopback_address_only(server):
    assert server.server_address[0] == "127.0.0.1"


def test_the_page_is_served_with_python_decoding(server):
    status, body = request(server, "GET", "/")
    assert status == 200 and b'"decoder":null' in body  # no weights in the page: the server decodes


@pytest.mark.parametrize("path", ["/config.json", "/../config.json", "/%2e%2e/model.safetensors", "//etc/passwd", "/decode/../config.json"])
def test_no_path_from_a_request_is_opened(server, path):
    status, body = request(server, "GET", path)
    assert status == 404 and b"config" not in body and b"root:" not in body


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Host": "evil.example:80"},
                                     {"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://127.0.0.1:1"}])
def test_other_origins_and_hosts_are_refused(server, headers):
    code = np.zeros(6).tolist()
    assert request(server, "POST", "/decode", {"run": 0, "codes": [code]}, headers)[0] == 403
    assert request(server, "GET", "/", headers=headers)[0] == 403


def test_a_decode_matches_pytorch(server):
    ctx = server.pages[0].ctx
    codes = torch.randn(3, ctx.code_dim)
    origin = {"Origin": f"http://127.0.0.1:{server.port}"}
    status, body = request(server, "POST", "/decode", {"run": 0, "codes": codes.tolist()}, origin)
    assert status == 200
    images = [np.frombuffer(base64.b64decode(b), "<f4") for b in json.loads(body)["images"]]
    assert np.abs(np.stack(images) - ctx.decode(codes).flatten(1).numpy()).max() <= 1e-6


@pytest.mark.parametrize("body", [{"run": 1, "codes": [[0] * 6]}, {"run": 0, "codes": [[0] * 5]}, {"run": 0, "codes": [["x"] * 6]},
                                  {"run": 0, "codes": []}, {"run": 0, "codes": [[0] * 6] * 65}])
def test_bad_decode_requests_are_answered_400(server, body):
    assert request(server, "POST", "/decode", body)[0] == 400


@pytest.mark.slow
@needs_chromium
def test_the_served_page_decodes_through_the_server(server):
    with open_page(server.url) as browser:
        browser.js("new Promise(r => setTimeout(r, 300))")
        assert browser.js("window.aelab && aelab.ready") is True
        decoded = np.asarray(floats(browser.js("aelab.state.lastDecoded[0]")))
        code = np.asarray(floats(browser.js("aelab.runs[0].current")))
        ctx = server.pages[0].ctx
        assert np.abs(decoded - ctx.decode(torch.tensor(code[None], dtype=torch.float32)).flatten().numpy()).max() <= 1e-6
        assert browser.errors == []
