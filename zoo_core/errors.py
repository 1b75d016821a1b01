"""User-facing errors: one line per problem, each naming what is wrong and how to fix it."""
from __future__ import annotations


class ZooError(Exception):
    """An error caused by the user's input. The CLI prints each problem on its own line
    (no traceback) and exits with code 2."""

    exit_code = 2

    def __init__(self, *problems: str, exit_code: int | None = None):
        self.problems = [p for p in problems if p]
        if exit_code is not None:
            self.exit_code = exit_code
        super().__init__("\n".join(self.problems))


class ZooPluginWarning(UserWarning):
    """A plugin distribution failed to import or register; the rest of zoo keeps working."""


def did_you_mean(word: str, choices, n: int = 3) -> str:
    """' did you mean 'x'?' or '' — suggestions by edit similarity."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.6)
    if not close:
        return ""
    return " did you mean " + " or ".join(repr(c) for c in close) + "?"
