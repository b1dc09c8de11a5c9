"""Studies: the seeds' assignments as TOML recipes, each run end to end by `aelab study NAME`."""

from aelab.study import scoreboard  # noqa: F401 - registers the `scoreboard` evidence kind
from aelab.study.recipe import Study, list_studies, load_study
from aelab.study.runner import run_study

__all__ = ["Study", "list_studies", "load_study", "run_study"]
