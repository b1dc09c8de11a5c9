"""One self-contained HTML file per run (or per comparison): PNGs embedded as base64,
one small stylesheet, no script and nothing fetched from the network.

Built only from the files in the folder (analysis.json / comparison.json and the
PNGs they name), so a report can be rebuilt without torch or the model.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Any, Callable, Iterable

from aelab.documents import AnalysisDocument, ComparisonDocument, Document, RunSummary, Table
from aelab.io import write_text
from aelab.report.style import CSS
from aelab.run_files import REPORT_HTML
from aelab.terms import LOSS, MetricTerm, shown_value, term_named, term_title

SHORT_LIST = 4  # lists and mappings up to this long are shown in a numbers table; longer ones stay in the JSON
RUN_PAGE, COMPARISON_PAGE, STUDY_PAGE = 1180, 1500, 1280  # page widths (px)
PAGE_MARGINS = 110  # the page's padding and a section's, both sides (style.py)
PANEL_GAP = 18  # px between side-by-side panels (.runs in style.py)
MOST_SHRINK = 0.75  # a figure set beside others keeps at least this share of its own size


def write_report(run_dir: str | Path) -> Path:
    """report.html of a run folder, from its analysis.json."""
    return write_page(Path(run_dir), AnalysisDocument, render_run)


def write_comparison_report(out_dir: str | Path) -> Path:
    return write_page(Path(out_dir), ComparisonDocument, render_comparison)


def write_page(root: Path, document: type[Document], render: Callable[[Any, Path], str]) -> Path:
    """root/report.html, rendered from the document's file in the same folder."""
    path = root / REPORT_HTML
    write_text(path, render(document.read(root / document.FILE), root))
    return path


# --- pages -------------------------------------------------------------------
def render_run(data: AnalysisDocument, root: Path) -> str:
    name = Path(data.run).name
    sections = []
    for i, a in enumerate(data.analyses, 1):
        body = error(a) or "".join(img(root / f, "") for f in a.figures)
        body += tables_block([numbers_table(a.numbers), *map(table_html, a.tables)])
        sections.append(section(i, a, body))
    sections.append(skipped_section(data.skipped))  # files from before skips were recorded have none
    sections.append(f'<section id="config"><h2>Configuration</h2>{config_table([data.config], [name])}</section>')
    head = f"<h1>{escape(name)}</h1><p class='meta'>{run_meta(data)}</p>{toc(data.analyses, bool(data.skipped))}"
    return page(f"aelab report: {name}", head, "".join(sections), timing_footer(data), width=RUN_PAGE)


def render_comparison(data: ComparisonDocument, root: Path) -> str:
    labels = [r.label for r in data.runs]
    sections = []
    for i, a in enumerate(data.analyses, 1):
        body = "".join(img(root / f, "") for f in a.combined_figures)
        cells = []
        for label, r in zip(labels, a.runs):
            inner = "<p class='meta'>does not apply</p>" if r is None else (error(r) or "".join(img(root / f, "") for f in r.figures))
            cells.append(f"<div><h3>{escape(label)}</h3>{inner}</div>")
        paths = [root / f for r in a.runs if r for f in r.figures]
        body += f"<div class='runs' style='--cols:{columns_for(paths, len(labels), COMPARISON_PAGE)}'>{''.join(cells)}</div>"
        numbers = [{} if r is None else r.numbers for r in a.runs]
        body += tables_block([numbers_table_many(numbers, labels)])
        body += details("Tables of each run", "".join(
            f"<h3>{escape(label)}</h3>{tables_block([table_html(t) for t in r.tables])}" for label, r in zip(labels, a.runs) if r and r.tables))
        sections.append(section(i, a, body))
    configs = config_table([r.config for r in data.runs], labels)
    sections.append(f'<section id="config"><h2>Configurations</h2><p class="meta">Rows that differ are highlighted.</p>{configs}</section>')
    meta = "<br>".join(f"<b>{escape(r.label)}</b>: {run_meta(r)}" for r in data.runs)
    head = f"<h1>Comparison of {len(labels)} runs</h1><p class='meta'>{meta}</p>{toc(data.analyses)}"
    return page("aelab comparison: " + ", ".join(labels), head, "".join(sections), timing_footer(data), width=COMPARISON_PAGE)


def page(title: str, head: str, body: str, foot: str, width: int) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body style='--width:{width}px'>"
            f"<header><div class='wrap'>{head}</div></header><main class='wrap'>{body}</main>"
            f"<footer class='wrap'>{foot}</footer></body></html>\n")


# --- pieces ----------------------------------------------------------------------
def section(i: int, a, body: str) -> str:
    """An analysis' section (`a`: an AnalysisEntry or a ComparisonEntry)."""
    return (f"<section id='{escape(a.name)}'><h2>{i}. {escape(a.title)}</h2>"
            f"<p class='note'>{escape(a.note)}</p>{body}</section>")


def toc(analyses: list, skipped: bool = False) -> str:
    items = "".join(f"<li><a href='#{escape(a.name)}'>{escape(a.title)}</a></li>" for a in analyses)
    items += "<li><a href='#skipped'>Skipped analyses</a></li>" if skipped else ""
    return f"<nav><ol>{items}<li><a href='#config'>Configuration</a></li></ol></nav>"


def skipped_section(skipped: list) -> str:
    """One short list of the analyses that do not fit the run (`Skipped` entries), each with its reason."""
    if not skipped:
        return ""
    items = "".join(f"<li><b>{escape(s.name)}</b>: {escape(s.reason)}</li>" for s in skipped)
    return f"<section id='skipped'><h2>Skipped analyses</h2><p class='meta'>They do not fit this run:</p><ul class='small'>{items}</ul></section>"


def run_meta(r: RunSummary) -> str:
    shape = lambda s: "×".join(map(str, s))  # noqa: E731
    parts = [("model", r.model), ("data", r.dataset), ("image", shape(r.image_shape)), ("code", shape(r.code_shape)),
             ("parameters", f"{r.parameters:,}"), ("train / test images", f"{r.train_images:,} / {r.test_images:,}")]
    parts += [("loss", term_named(r.terms, LOSS).title)] if r.terms else []  # older documents did not declare it
    return " · ".join(f"{k} <b>{escape(str(v))}</b>" for k, v in parts)


def columns_for(paths: list[Path], panels: int, page_width: int) -> int:
    """How many panels to set side by side (at most 3): as many as fit without shrinking any
    figure below MOST_SHRINK of its own size, so tiles stay large enough to judge and every
    figure's text keeps about the same size."""
    widest = max((png_size(p.read_bytes()[:24])[0] for p in paths), default=0)
    content = page_width - PAGE_MARGINS
    for cols in range(min(panels, 3), 1, -1):
        if (content - PANEL_GAP * (cols - 1)) / cols >= MOST_SHRINK * widest:
            return cols
    return 1


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk (bytes 16..24), without an image library."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def img(path: Path, text: str) -> str:
    """The PNG embedded at its own size (shrunk only to fit); a click or Tab focuses it, which shows it
    full size over the page (CSS `:focus`, no script) until the reader clicks elsewhere."""
    data = path.read_bytes()
    width, height = png_size(data)
    encoded = base64.b64encode(data).decode("ascii")
    cap = f"<figcaption>{escape(text)}</figcaption>" if text else ""
    alt = escape(text or path.stem.replace("-", ": ").replace("_", " "))
    return (f"<figure><img src='data:image/png;base64,{encoded}' width='{width}' height='{height}' alt='{alt}' "
            f"tabindex='0' title='click to enlarge'>{cap}</figure>")


def error(a) -> str:
    """The failure of an analysis, a panel or an evidence block (anything with an `error`)."""
    return f"<p class='error'>This analysis failed: {escape(a.error)}</p>" if a.error else ""


def details(title: str, inner: str) -> str:
    return f"<details><summary>{escape(title)}</summary>{inner}</details>" if inner else ""


def tables_block(tables: Iterable[str]) -> str:
    inner = "".join(t for t in tables if t)
    return f"<div class='tables'>{inner}</div>" if inner else ""


def table_html(t: Table) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in t.columns)
    rows = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in t.rows)
    return f"<div class='scroll'><h3>{escape(t.title)}</h3><table><tr>{head}</tr>{rows}</table></div>"


def cell(value: Any) -> str:
    text = fmt(value)
    numeric = isinstance(value, (int, float)) or text.replace(".", "", 1).replace(",", "").replace("-", "", 1).isdigit()
    return f"<td class='num'>{escape(text)}</td>" if numeric else f"<td>{escape(text)}</td>"


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def flat_numbers(numbers: dict, prefix: str = "") -> dict[str, Any]:
    """Scalars and short lists, with nested keys joined by '.'; long lists and long mappings
    (per-class values, which the analysis' own tables show) stay in the JSON, and so do the
    analyses' own timings (the footer has the time of each analysis)."""
    out: dict[str, Any] = {}
    for key, value in numbers.items():
        if isinstance(value, dict):
            if len(value) <= SHORT_LIST and not (key == "seconds" and not prefix):
                out |= flat_numbers(value, f"{prefix}{key}.")
        elif not isinstance(value, list) or (len(value) <= SHORT_LIST and all(not isinstance(v, (list, dict)) for v in value)):
            out[f"{prefix}{key}"] = value
    return out


# what a reader sees instead of an analysis' own JSON key, word by word (a run's metrics are
# labelled by the terms their document declares instead: aelab.terms)
WORDS = {"mse": "MSE", "bce": "BCE", "psnr": "PSNR", "db": "(dB)", "elbo": "ELBO", "kl": "KL", "nll": "NLL",
         "iwae": "IWAE", "pca": "PCA", "tsne": "t-SNE", "rec": "reconstruction", "val": "validation", "fid": "FID",
         "kid": "KID", "mmd": "MMD", "z": "z", "u": "u", "v": "v"}


def label(key: str, terms: Iterable[MetricTerm] = ()) -> str:
    """A declared term's title ('val_nelbo' -> 'validation ELBO (nats per image)'), else the key word by
    word: 'seconds.neighbour_search' -> 'seconds: neighbour search'; '1nn_on_codes' -> '1-NN on codes'."""
    declared = term_title(key, terms)
    if declared:
        return declared
    return ": ".join(" ".join(word(w) for w in part.split("_")) for part in key.split("."))


def word(w: str) -> str:
    if w.endswith("nn") and w[:-2].isdigit():
        return f"{w[:-2]}-NN"
    return WORDS.get(w, w)


def numbers_table(numbers: dict, terms: Iterable[MetricTerm] = ()) -> str:
    """The numbers of one run; those `terms` declare are labelled and signed by them."""
    terms = list(terms)
    flat = flat_numbers(numbers)
    if not flat:
        return ""
    rows = "".join(f"<tr><td>{escape(label(k, terms))}</td>{cell(shown_value(k, v, terms))}</tr>" for k, v in flat.items())
    return f"<div class='scroll'><h3>Numbers</h3><table>{rows}</table></div>"


def numbers_table_many(numbers: list[dict], labels: list[str], terms: Iterable[MetricTerm] = ()) -> str:
    terms = list(terms)
    flats = [flat_numbers(n) for n in numbers]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    if not keys:
        return ""
    head = "".join(f"<th>{escape(name)}</th>" for name in labels)
    rows = "".join(f"<tr><td>{escape(label(k, terms))}</td>" + "".join(cell(shown_value(k, f.get(k), terms)) for f in flats) + "</tr>"
                   for k in keys)
    return f"<div class='scroll'><h3>Numbers</h3><table><tr><th></th>{head}</tr>{rows}</table></div>"


def config_table(configs: list[dict], labels: list[str]) -> str:
    flats = [flat_all(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    head = "".join(f"<th>{escape(label)}</th>" for label in labels)
    rows = []
    for k in keys:
        values = [fmt(f.get(k)) for f in flats]
        cls = " class='diff'" if len(set(values)) > 1 else ""
        rows.append(f"<tr{cls}><td>{escape(k)}</td>" + "".join(f"<td>{escape(v)}</td>" for v in values) + "</tr>")
    return f"<div class='scroll'><table><tr><th>key</th>{head}</tr>{''.join(rows)}</table></div>"


def flat_all(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        out |= flat_all(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value}
    return out


def timing_footer(data: AnalysisDocument | ComparisonDocument) -> str:
    """The closing note: time of each shared step and each analysis."""
    rows = list(data.shared_seconds.items())
    rows += [(a.title, a.seconds) for a in data.analyses if a.seconds is not None]
    body = "".join(f"<tr><td>{escape(k)}</td><td class='num'>{v:.2f} s</td></tr>" for k, v in rows)
    return (f"<p>Made by aelab on {escape(data.created)} in {data.total_seconds:.1f} s on {escape(data.device)}; every number "
            f"is also in {data.FILE} beside this file.</p><h3>Time of each step</h3><table>{body}</table>")
