"""Open a page in headless Chromium over the DevTools protocol (on a pipe: no port, no
network, stdlib only) and report what a reader would see: console errors, whether each
<img> decoded, and a full-page screenshot."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-pipe"]
IMAGES_JS = "JSON.stringify(Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]))"


def find_chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@dataclass
class PageReport:
    errors: list[str]  # console errors, uncaught exceptions, failed loads
    images: list[list]  # [complete, naturalWidth, naturalHeight] per <img>
    screenshot: bytes  # PNG of the whole page
    scroll_width: int = 0  # the document's width in CSS px: above the window's, the page scrolls sideways


class DevTools:
    def __init__(self, binary: str, user_dir: str):
        cmd_read, self._cmd = os.pipe()  # Chromium reads commands on fd 3
        self._events, evt_write = os.pipe()  # and writes replies/events on fd 4

        def wire() -> None:
            os.dup2(cmd_read, 3)
            os.dup2(evt_write, 4)

        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={user_dir}", "about:blank"], preexec_fn=wire,
                                     pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_read)
        os.close(evt_write)
        self._buffer, self._next_id, self.events = b"", 0, []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}} | ({"sessionId": session} if session else {})
        os.write(self._cmd, json.dumps(msg).encode() + b"\0")
        reply = self.wait(lambda m: m.get("id") == self._next_id, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait(self, match, timeout: float) -> dict:
        """Read messages until one matches; events seen on the way are kept in `self.events`."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if match(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._events], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._events, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk

    def close(self) -> None:
        try:
            os.write(self._cmd, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.proc.wait(10)
        except Exception:  # noqa: BLE001 - make sure the browser is gone either way
            self.proc.kill()
        os.close(self._cmd)
        os.close(self._events)


def open_page(binary: str, path: Path, width: int = 1300, timeout: float = 60, mobile: bool = False) -> PageReport:
    with tempfile.TemporaryDirectory() as user_dir:
        tools = DevTools(binary, user_dir)
        try:
            target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                tools.send(f"{domain}.enable", session=session)
            tools.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile}, session)
            tools.send("Page.navigate", {"url": path.resolve().as_uri()}, session)
            tools.wait(lambda m: m.get("method") == "Page.loadEventFired", timeout)
            images = json.loads(tools.send("Runtime.evaluate", {"expression": IMAGES_JS, "returnByValue": True}, session)["result"]["value"])
            scroll = tools.send("Runtime.evaluate", {"expression": "document.documentElement.scrollWidth", "returnByValue": True}, session)
            shot = tools.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session, timeout)
            return PageReport(errors(tools.events), images, base64.b64decode(shot["data"]), scroll["result"]["value"])
        finally:
            tools.close()


def errors(events: list[dict]) -> list[str]:
    found = []
    for e in events:
        method, p = e["method"], e.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = p["exceptionDetails"]
            found.append(f"{details.get('text', '')} {details.get('exception', {}).get('description', '')}".strip())
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            found.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
            found.append(p["entry"].get("text", ""))
        elif method == "Network.loadingFailed":
            found.append(f"load failed: {p.get('errorText')}")
    return found
