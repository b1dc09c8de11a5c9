"""One self-contained HTML page from one or two runs: data, decoder weights and scripts inlined,
so it opens from file://, offline, for someone who received only the file."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from aelab.errors import AelabError
from aelab.explore.page_data import (
    ExploreOptions,
    RunPage,
    build_run_page,
    same_test_images,
)
from aelab.io import write_text
from aelab.run_files import RunFiles

SCRIPTS = ("decoder.js", "map.js", "walk.js", "measure.js", "explorer.js")  # one <script>: explorer.js starts it all


def page_file(name: str) -> str:
    return (resources.files("aelab.explore") / "page" / name).read_text(encoding="utf-8")


def build_pages(run_dirs: list[str | Path], options: ExploreOptions, *, in_page_decoder: bool = True) -> list[RunPage]:
    if not 1 <= len(run_dirs) <= 2:
        raise AelabError(f"aelab explore shows one run, or two side by side; got {len(run_dirs)}.")
    labels = [Path(r).name for r in run_dirs]
    if len(labels) == 2 and labels[0] == labels[1]:
        labels = [f"A: {labels[0]}", f"B: {labels[1]}"]
    pages = [build_run_page(r, label, options, in_page_decoder=in_page_decoder) for r, label in zip(run_dirs, labels)]
    if len(pages) == 2 and not shared_axes(pages) and not same_test_images(*pages):
        raise AelabError(
            f"{run_dirs[0]} and {run_dirs[1]} were not tested on the same images, so a point on one map means "
            "nothing on the other: compare runs of one dataset (or two runs with 2-D codes, which share axes)."
        )
    return pages


def shared_axes(pages: list[RunPage]) -> bool:
    """Two 2-D codes drawn as themselves share one plane: a position is the same code in both."""
    return len(pages) == 2 and all(p.map_kind == "code" for p in pages)


def render(pages: list[RunPage], *, server: bool = False) -> str:
    title = "aelab explore: " + " vs ".join(p.label for p in pages)
    data = {"runs": [p.to_json() for p in pages], "shared_axes": shared_axes(pages), "server": server}
    # "</" cannot end the <script> element early once escaped; JSON reads "<\/" as "</"
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    scripts = "\n".join(page_file(name) for name in SCRIPTS)
    html = page_file("explorer.html")
    for key, value in (("title", _escape(title)), ("css", page_file("explorer.css")), ("scripts", scripts), ("data", blob)):
        html = html.replace("{{" + key + "}}", value)
    return html


def default_page_path(run_dirs: list[str | Path]) -> Path:
    """Inside the first run's folder: explore.html, or explore-vs-RUN_B.html for two runs."""
    first = RunFiles(Path(run_dirs[0]))
    return first.explore_page(None if len(run_dirs) == 1 else Path(run_dirs[1]).name)


def write_page(run_dirs: list[str | Path], out: str | Path | None = None, options: ExploreOptions | None = None) -> Path:
    path = Path(out) if out else default_page_path(run_dirs)
    write_text(path, render(build_pages(run_dirs, options or ExploreOptions())))
    return path


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
