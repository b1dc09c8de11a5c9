"""A live page in headless Chromium for the explorer tests: evaluate JavaScript, move and click
the mouse, take screenshots. Built on tests/report/chromium.py's DevTools pipe (no port)."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from tests.report.chromium import DevTools, errors, find_chromium


class Page:
    def __init__(self, tools: DevTools, session: str):
        self.tools, self.session = tools, session

    def js(self, expression: str, timeout: float = 60):
        """The value of `expression` (awaited when it is a promise), or the page's exception."""
        reply = self.tools.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                                self.session, timeout)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression[:80]}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def mouse(self, kind: str, x: float, y: float, button: str = "none") -> None:
        """kind: mouseMoved, mousePressed or mouseReleased, at page coordinates."""
        params = {"type": kind, "x": x, "y": y, "button": button, "buttons": 1 if button == "left" else 0}
        if kind != "mouseMoved":
            params["clickCount"] = 1
        self.tools.send("Input.dispatchMouseEvent", params, self.session)

    def click(self, x: float, y: float) -> None:
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y, "left")
        self.mouse("mouseReleased", x, y, "left")

    def settle(self) -> None:
        """Wait two animation frames and any decodes they started."""
        self.js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 50))))")

    def screenshot(self) -> bytes:
        shot = self.tools.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, self.session)
        return base64.b64decode(shot["data"])

    @property
    def errors(self) -> list[str]:
        return errors(self.tools.events)


@contextmanager
def open_page(url: str, width: int = 1400, height: int = 1000, timeout: float = 60) -> Iterator[Page]:
    binary = find_chromium()
    with tempfile.TemporaryDirectory() as user_dir:
        tools = DevTools(binary, user_dir)
        try:
            target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                tools.send(f"{domain}.enable", session=session)
            tools.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
            tools.send("Page.navigate", {"url": url}, session)
            tools.wait(lambda m: m.get("method") == "Page.loadEventFired", timeout)
            yield Page(tools, session)
        finally:
            tools.close()


def floats(value: dict | list) -> list[float]:
    """A Float32Array returned by value (an {index: number} object) as a list."""
    return [value[str(i)] for i in range(len(value))] if isinstance(value, dict) else list(value)
