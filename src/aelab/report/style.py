"""The report's stylesheet, kept in Python so the package needs no data files."""

CSS = """
:root { --ink: #1d2433; --muted: #5b6478; --line: #e3e7ef; --accent: #2b6cb0; --bg: #f7f8fb; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 28px 0 18px; }
.wrap { max-width: var(--width, 1180px); margin: 0 auto; padding: 0 28px; }
h1 { font-size: 1.7rem; margin: 0 0 6px; letter-spacing: -0.01em; }
h2 { font-size: 1.3rem; margin: 0 0 4px; }
h3 { font-size: 1.02rem; margin: 18px 0 6px; color: var(--muted); }
.meta { color: var(--muted); margin: 0; }
.meta b { color: var(--ink); font-weight: 600; }
nav ol { columns: 3; margin: 14px 0 0; padding-left: 1.3em; color: var(--muted); font-size: 0.95rem; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; margin: 22px 0; padding: 22px 26px; }
.note { margin: 2px 0 14px; padding: 8px 12px; background: #eef4fb; border-left: 4px solid var(--accent);
  border-radius: 4px; color: #25364f; }
figure { margin: 12px 0; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: zoom-in; }
figure img:focus { position: fixed; inset: 0; z-index: 10; width: 100vw; height: 100vh; max-width: none; object-fit: contain;
  padding: 12px; background: rgba(255, 255, 255, 0.97); border: 0; border-radius: 0; outline: none; cursor: zoom-out; }
figcaption { color: var(--muted); font-size: 0.85rem; }
.runs { display: grid; gap: 18px; grid-template-columns: repeat(var(--cols, 2), minmax(0, 1fr)); }
.runs > div { min-width: 0; }
.runs h3 { margin-top: 4px; text-align: center; color: var(--ink); }
table { border-collapse: collapse; margin: 10px 0; font-size: 0.88rem; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #f2f4f8; font-weight: 600; }
td.num { text-align: right; }
td { max-width: 24em; }
tr.diff td { background: #fff8e1; }
.tables { display: flex; flex-wrap: wrap; gap: 10px 32px; align-items: flex-start; }
.scroll { overflow-x: auto; max-width: 100%; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--accent); }
.error { color: #9b2c2c; background: #fff5f5; border: 1px solid #fed7d7; padding: 8px 12px; border-radius: 4px; }
.warn { background: #fffbea; border: 1px solid #f6e05e; border-left: 5px solid #d69e2e; padding: 8px 12px; border-radius: 4px; }
blockquote.ask { margin: 6px 0 12px; padding: 6px 14px; border-left: 4px solid var(--line); color: #39414f; font-style: italic; }
h3.block { color: var(--ink); border-top: 1px solid var(--line); padding-top: 14px; }
h4 { margin: 4px 0; text-align: center; font-size: 0.95rem; }
.small { font-size: 0.9rem; }
.badge { font-size: 0.8rem; padding: 1px 8px; border-radius: 10px; vertical-align: middle; }
.badge.passed { background: #c6f6d5; color: #22543d; }
.badge.failed { background: #fed7d7; color: #822727; }
footer { color: var(--muted); font-size: 0.9rem; padding: 8px 0 40px; }
@media (max-width: 760px) {
  body { font-size: 15px; }
  .wrap { padding: 0 10px; }
  header { padding: 16px 0 10px; }
  h1 { font-size: 1.35rem; }
  nav ol { columns: 1; }
  section { padding: 14px 12px; margin: 14px 0; border-radius: 6px; }
  .runs { grid-template-columns: minmax(0, 1fr); }
  .tables { display: block; }
  th, td { padding: 3px 6px; }
  p, li, h1, h2, h3, h4, blockquote { overflow-wrap: anywhere; }
  table { display: block; overflow-x: auto; max-width: 100%; }
}
"""
