"""Speed of the `aelab explore` page in headless Chromium: page size, decode latency, the time
from a click to its decoded image, and frame times while the mouse sweeps over the map.

    PYTHONPATH=src:. python benchmarks/explore_speed.py RUN [RUN_B] [--points 10000] [--screenshot PNG]

Decode: `aelab.benchmarkDecode` (the decoder plus drawing its image), 200 codes near test codes.
Click: 40 clicks at random map positions, each the whole update the page makes (position ->
code, decode, draw, nearest training images, map marks). Hover: one synthetic mouse move per
animation frame for 3 s over the map (the hovered point's reconstruction decoded and drawn);
frame gaps of ~16.7 ms mean no frame was dropped. Uses the tests' DevTools driver.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from aelab.explore.page import build_pages, render
from aelab.explore.page_data import ExploreOptions
from tests.explore.browser import open_page


def clicks(browser, n: int, seed: int = 0) -> dict:
    left, top, width, height = browser.js("(() => { const r = aelab.runs[0].map.canvas.getBoundingClientRect(); "
                                          "return [r.left, r.top, r.width, r.height]; })()")
    rng = np.random.default_rng(seed)
    browser.js("aelab.state.timings.length = 0")
    for x, y in rng.uniform(0.1, 0.9, (n, 2)):
        browser.click(round(left + x * width), round(top + y * height))
        browser.settle()
    times = sorted(browser.js("aelab.state.timings"))
    return {"median": statistics.median(times), "p95": times[int(0.95 * (len(times) - 1))], "count": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--points", type=int, default=10000)
    parser.add_argument("--map", default="auto")
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    pages = build_pages(args.runs, ExploreOptions(points=args.points, map=args.map))
    html = render(pages)
    built = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "explore.html"
        path.write_text(html)
        start = time.perf_counter()
        with open_page(path.as_uri()) as browser:
            browser.settle()
            loaded = time.perf_counter() - start
            result = {
                "runs": [f"{p.label} ({p.ctx.config.model.name}, code {'x'.join(map(str, p.ctx.code_shape))})" for p in pages],
                "points": [len(p.codes) for p in pages], "page_mb": round(len(html.encode()) / 2**20, 2),
                "decoder_weights_kb": [round(p.decoder.weight_bytes / 1024, 1) for p in pages],
                "build_s": round(built, 2), "open_s": round(loaded, 2),
                "decode_ms": [browser.js(f"aelab.benchmarkDecode({i}, 200)") for i in range(len(pages))],
                "click_ms": clicks(browser, 40),
                "hover_frame_ms": browser.js("aelab.measureHover(3000)"),
                "errors": browser.errors, "load_average": os.getloadavg()[0],
            }
            if args.screenshot:
                browser.js("window.scrollTo(0, 0)")
                browser.click(*browser.js("(() => { const m = aelab.runs[0].map, r = m.canvas.getBoundingClientRect(); "
                                           "return [Math.round(r.left + m.pixels[0]), Math.round(r.top + m.pixels[1])]; })()"))
                browser.settle()
                args.screenshot.write_bytes(browser.screenshot())
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
