"""The one exception type users see: a message that names the problem and the fix.

The CLI prints an `AelabError` as a short paragraph and exits non-zero; anything
else is a bug and keeps its traceback.
"""


class AelabError(Exception):
    """A problem with the user's input or files, described well enough to fix it."""


class DataError(AelabError):
    """A dataset is missing, corrupted, or not in the expected format."""


class ConfigError(AelabError):
    """An unknown option, a value of the wrong type, or settings that don't fit together."""


class TrainingDiverged(AelabError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""
