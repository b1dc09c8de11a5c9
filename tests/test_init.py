"""`import aelab` is lazy: the CLI's help and the torch-free report never pay for torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "matplotlib")


def modules_loaded_by(code: str) -> dict[str, bool]:
    """Which of HEAVY a fresh interpreter has imported after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


@pytest.mark.parametrize("code", ["import aelab", "from aelab.cli import build_parser; build_parser().format_help()"])
def test_import_aelab_and_the_cli_parser_load_neither_torch_nor_matplotlib(code):
    assert modules_loaded_by(code) == {"torch": False, "matplotlib": False}


def test_report_is_torch_free():
    assert not modules_loaded_by("import aelab.report")["torch"]


def test_public_names_load_on_first_use_and_keep_the_functions_over_their_modules():
    loaded = modules_loaded_by("import aelab, aelab.train, aelab.evaluate\n"
                               "assert callable(aelab.train) and callable(aelab.evaluate)\n"
                               "assert aelab.make_config({}).train.epochs > 0 and set(aelab.__all__) <= set(dir(aelab))")
    assert loaded["torch"]


def test_unknown_attribute_is_an_attribute_error():
    import aelab

    with pytest.raises(AttributeError, match="no_such_name"):
        aelab.no_such_name  # noqa: B018
