"""The study report: the seed's questions in the seed's order, each followed by its evidence.

Built from study.json and the PNGs it names (in the runs' and comparisons' folders),
with the building blocks of the run report; one self-contained HTML file, no torch.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from aelab.documents import EvidenceBlock, Panel, StudyDocument, StudyQuestion, StudyRunRecord
from aelab.report.html import STUDY_PAGE, columns_for, config_table, details, error, img, numbers_table_many, page, table_html, tables_block, write_page
from aelab.terms import LOSS, metric_key, term_named


def write_study_report(out_dir: str | Path) -> Path:
    return write_page(Path(out_dir), StudyDocument, render_study)


def render_study(data: StudyDocument, root: Path) -> str:
    shown: dict[str, int] = {}  # numbers tables already shown -> the question that shows them
    sections = [question_section(i, q, root, shown) for i, q in enumerate(data.questions, 1)]
    sections.append(runs_section(data.runs))
    return page(f"aelab study: {data.title}", header(data), "".join(sections), footer(data), width=STUDY_PAGE)


def header(data: StudyDocument) -> str:
    meta = [("seed", data.seed), ("command", data.command), ("dataset", f"{data.dataset} ({data.dataset_location})")]
    lines = " · ".join(f"{k} <b>{escape(str(v))}</b>" for k, v in meta)
    quick = (f"<p class='warn'><b>Quick run</b> (<code>--quick</code>): {escape(quick_settings(data.runs))}. It shows the study "
             "working in a minute or two; its numbers are not the study's results: run the same command without "
             "<code>--quick</code> for those.</p>")
    notes = "".join(f"<p class='warn'><b>Note:</b> {escape(n)}</p>" for n in data.notes)
    items = "".join(f"<li><a href='#q{i}'>{escape(q.title)}</a></li>" for i, q in enumerate(data.questions, 1))
    summary = f"<p>{escape(data.summary)}</p>" if data.summary else ""
    return (f"<h1>{escape(data.title)}</h1><p class='meta'>{lines}</p>{quick if data.quick else ''}{notes}{summary}"
            f"<nav><ol>{items}<li><a href='#runs'>Runs and their configurations</a></li></ol></nav>")


def quick_settings(runs: list[StudyRunRecord]) -> str:
    """'3 epochs on the first 2,000 training and 500 test images', read from the runs' configs."""
    configs = [r.config for r in runs if r.config]
    if not configs:
        return "few epochs on a subset"
    epochs = sorted({c["train"]["epochs"] for c in configs})
    data = configs[0]["data"]
    subset = [f"{data[k]:,} {what}" for k, what in (("train_subset", "training"), ("test_subset", "test")) if data.get(k)]
    span = f"{epochs[0]}" if len(epochs) == 1 else f"{epochs[0]} to {epochs[-1]}"
    return f"{span} epoch{'s' if epochs[-1] > 1 else ''}" + (f" on the first {' and '.join(subset)} images" if subset else "")


def question_section(i: int, q: StudyQuestion, root: Path, shown: dict[str, int] | None = None) -> str:
    ask = f"<blockquote class='ask'>{escape(q.ask)}</blockquote>" if q.ask else ""
    look = f"<p class='note'><b>What to look for:</b> {escape(q.look)}</p>" if q.look else ""
    blocks = "".join(block_html(b, root, i, {} if shown is None else shown) for b in q.blocks)
    return f"<section id='q{i}'><h2>{i}. {escape(q.title)}</h2>{ask}{look}{blocks}</section>"


def block_html(b: EvidenceBlock, root: Path, question: int = 0, shown: dict[str, int] | None = None) -> str:
    """One piece of evidence; a numbers table that an earlier question showed is not repeated."""
    badge = f" <span class='badge {b.status}'>{escape(b.status)}</span>" if b.status else ""
    head = f"<h3 class='block'>{escape(b.title)}{badge}</h3>"
    if b.skipped:
        return head + f"<p class='warn'>Skipped: {escape(b.skipped)}</p>"
    if b.error and not b.panels:
        return head + error(b)
    note = f"<p class='meta small'>{escape(b.note)}</p>" if b.note else ""
    body = panels_html(b.panels, root, b.captions)
    numbers = b.numbers
    tables = [numbers_table_many(numbers.rows, numbers.labels, b.terms)] if numbers and any(numbers.rows) else []
    if tables and shown is not None:
        if tables[0] in shown and shown[tables[0]] != question:
            note += f"<p class='meta small'>Its numbers are in question {shown[tables[0]]}'s table above.</p>"
            tables = []
        else:
            shown.setdefault(tables[0], question)
    tables += [table_html(t) for t in b.tables]
    many = len(b.tables) > 2
    body += details("Tables", tables_block(tables)) if many else tables_block(tables)
    return head + note + body


def panels_html(panels: list[Panel], root: Path, captions: str | None) -> str:
    cells = []
    for p in panels:
        if p.skipped:
            inner = f"<p class='warn'>Skipped: {escape(p.skipped)}</p>"
        else:
            inner = error(p) if p.error else "".join(img(root / f, caption(f) if captions else "") for f in p.figures)
        cells.append(f"<div><h4>{escape(p.label)}</h4>{inner}</div>")
    if not cells:
        return ""
    cols = columns_for([root / f for p in panels if not p.skipped and not p.error for f in p.figures], len(cells), STUDY_PAGE)
    return f"<div class='runs' style='--cols:{cols}'>{''.join(cells)}</div>"


def caption(path: str) -> str:
    """'a/reconstructions/epoch_003.png' -> 'epoch 3'."""
    word, _, number = Path(path).stem.rpartition("_")
    return f"{word} {int(number)}" if number.isdigit() else Path(path).stem


def held_out_loss(r: StudyRunRecord) -> str:
    """'test 0.0123 (loss, mean per pixel)': the last epoch's held-out loss, as the run's terms declare it."""
    last = r.history[-1] if r.history else {}
    split = next((s for s in ("test", "val") if metric_key(s, LOSS) in last), None)
    if split is None:
        return "–"
    term = term_named(r.terms, LOSS)
    what = ", ".join(filter(None, (term.label, term.unit))) if r.terms else ""  # older study.json: no terms declared
    return f"{split} {term.shown(last[metric_key(split, LOSS)]):.4g}" + (f" ({what})" if what else "")


def runs_section(runs: list[StudyRunRecord]) -> str:
    rows = []
    for r in runs:
        last = r.history[-1] if r.history else {}
        link = f"<a href='{escape(r.report)}'>report</a>" if r.report else "–"
        seconds = sum(h.get("seconds", 0.0) for h in r.history)
        cells = [r.name, r.label, r.model or "–", r.dataset, r.status if r.status != "skipped" else f"skipped: {r.reason}",
                 str(last.get("epoch", "–")), f"{seconds:.0f} s" if r.history else "–", held_out_loss(r)]
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + f"<td>{link}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("run", "label", "model", "dataset", "this time", "epochs", "training time", "last held-out loss", "own report"))
    trained = [r for r in runs if r.config]
    configs = ""
    if trained:
        table = config_table([r.config for r in trained], [r.name for r in trained])
        configs = details("Configurations (rows that differ are highlighted)", table)
    return (f"<section id='runs'><h2>Runs and their configurations</h2><p class='meta small'>Each run folder also has its own "
            f"report with every analysis run on it.</p><div class='scroll'><table><tr>{head}</tr>{''.join(rows)}</table></div>{configs}</section>")


def footer(data: StudyDocument) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td class='num'>{v:.1f} s</td></tr>" for k, v in data.seconds.items())
    return (f"<p>Made by aelab on {escape(data.created)} in {data.total_seconds:.1f} s on {escape(data.device)} "
            f"from the recipe of study <b>{escape(data.name)}</b>; the evidence is also in {data.FILE} beside this file.</p>"
            f"<h3>Time of each step</h3><table>{rows}</table>")
