"""Self-contained HTML reports from the files `aelab analyze` / `aelab compare` wrote.

Reads analysis.json (or comparison.json) and the PNGs beside it; never imports torch.
"""

from aelab.report.html import write_comparison_report, write_report

__all__ = ["write_comparison_report", "write_report"]
