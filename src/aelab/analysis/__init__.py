"""Analyses of a trained run: registered plug-ins, one file each, run by `aelab analyze`.

Importing this package imports every module in it, so each analysis module
registers itself: adding an analysis is one new file here (or anywhere, calling
`register_analysis`). The report order is each analysis' `order`.
"""

import importlib
import pkgutil

from aelab.analysis.base import ANALYSES, Analysis, AnalysisResult, Table, ordered_analyses, register_analysis
from aelab.analysis.context import AnalysisContext
from aelab.analysis.needs import Needs
from aelab.analysis.runner import Analyzed, analyze

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["ANALYSES", "Analysis", "Analyzed", "AnalysisContext", "AnalysisResult", "Needs", "Table", "analyze", "ordered_analyses", "register_analysis"]
