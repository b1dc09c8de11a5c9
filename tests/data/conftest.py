"""Keep data tests away from the real cache, environment and system folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aelab.data import sources

SHARED_DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def real_data_root() -> Path | None:
    """$AELAB_DATA_DIR, else ../shared/datasets beside the repository, else None."""
    env = os.environ.get(sources.ENV_VAR)
    for candidate in (Path(env) if env else None, SHARED_DATASETS):
        if candidate is not None and candidate.is_dir():
            return candidate.resolve()
    return None


REAL_ROOT = real_data_root()  # read before any test clears the environment


@pytest.fixture(autouse=True)
def isolated_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache and system folder under tmp_path, and no $AELAB_DATA_DIR."""
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "SYSTEM_DIRS", (tmp_path / "system",))
    return tmp_path
