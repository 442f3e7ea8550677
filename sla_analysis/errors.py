"""Every error the suite reports to a user, in one module (as papermill keeps its exceptions).

Each carries a message that names what is wrong and where (file, column, rule, example rows; the
config key; the notebook and cell). The CLI turns them into one readable paragraph and an exit
code: 2 for bad parameters or input (nothing was published), 1 for a failed notebook.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass
class Violation:
    """One broken rule: where, what, how many rows, and examples (row numbers are 1-based data
    rows, the header not counted)."""

    file: str
    column: str
    rule: str
    n_rows: int
    examples: list[dict]

    def format(self) -> str:
        rows = f" ({self.n_rows} row{'s' if self.n_rows != 1 else ''})" if self.n_rows else ""
        lines = [f"{self.file}: column '{self.column}': {self.rule}{rows}"]
        for ex in self.examples:
            shown = ", ".join(f"{k}={_show(v)}" for k, v in ex.items())
            lines.append(f"    {shown}")
        return "\n".join(lines)


def _show(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ContractError(Exception):
    """Input that breaks the data contract. ``violations`` lists every broken rule."""

    def __init__(self, violations: list[Violation]):
        self.violations = violations
        n = len(violations)
        super().__init__(f"The CRM export breaks the data contract ({n} rule{'s' if n != 1 else ''} "
                         "failed); nothing was published.\n" + "\n".join(v.format() for v in violations))


class ConfigError(ValueError):
    """A config file that is missing, unreadable, or holds a value out of range."""


class OutputError(ConfigError):
    """The reports folder (``--out``/``OUT=``) cannot be created or written: a bad parameter, so it
    is reported like a config error (exit 2, one line), before any data is read."""


class PeriodError(ValueError):
    """A PERIOD that is not one of the accepted forms."""


class AdapterError(ValueError):
    """A source export that cannot be adapted: names the file and, when one is at fault, the column.

    ``str(err)`` is one line: ``<file>: column '<column>': <problem>``.
    """

    def __init__(self, file: str | Path, column: str | None, problem: str):
        self.file, self.column, self.problem = str(file), column, problem
        where = f"column '{column}': " if column else ""
        super().__init__(f"{file}: {where}{problem}")


class EngineError(ValueError):
    """An engine that is not known or not installed (``--engine``/``ENGINE=``)."""


class NotebookFailed(RuntimeError):
    """A report notebook raised; names the notebook and the cell."""


USER_ERRORS = (ContractError, ConfigError, PeriodError, AdapterError, EngineError)
"""Errors that mean bad parameters or input: exit 2, nothing published."""


class FigureError(LookupError):
    """The figures' graph is asked for a figure it does not define, or was not computed for a page."""
