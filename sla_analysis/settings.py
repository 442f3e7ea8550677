"""The run's settings: how and where a report runs (engine, memory, workers, kernels, time-outs).

Every ``SLA_ANALYSIS_*`` environment variable (and ``SLA_PROJECT_ROOT``) is read here, in
:meth:`Settings.from_env`, and nowhere else. The CLI builds the settings once, from the environment
and its own options (``--project``, ``--engine``), and hands them to the run
(:func:`sla_analysis.report.run.run_report`), which installs them for its duration (:func:`using`).
Code that runs without the CLI (a notebook opened in JupyterLab, a test) gets
``Settings.from_env()`` from :func:`current`. The package never writes ``os.environ``: a child
process that needs them (the benchmark's report runs) is given its settings as an environment of
its own (:meth:`Settings.as_env`); a report's kernels need none (they read the stored figures).
One run per process: the settings installed are the process's, seen by every thread of the run.

| variable | field | default |
|---|---|---|
| ``SLA_PROJECT_ROOT`` | ``project_root`` | the nearest folder holding ``config/sla.yml`` |
| ``SLA_ANALYSIS_ENGINE`` | ``engine`` | ``duckdb`` |
| ``SLA_ANALYSIS_DUCKDB_MEMORY`` | ``duckdb_memory`` | ``2GB`` per connection |
| ``SLA_ANALYSIS_SPARK_MASTER`` | ``spark_master`` | ``local[2]`` |
| ``SLA_ANALYSIS_SPARK_MEMORY`` | ``spark_memory`` | ``2g`` |
| ``SLA_ANALYSIS_CAP_WORKERS`` | ``cap_workers`` | one per core, at most 4 |
| ``SLA_ANALYSIS_WARM_KERNELS`` | ``warm_kernels`` | on (``0`` starts each kernel as a new process) |
| ``SLA_ANALYSIS_CELL_TIMEOUT_S`` | ``cell_timeout_s`` | 1800 |
| ``SLA_ANALYSIS_TIMINGS`` | ``timings_file`` | none (each stage's start and end, as JSON lines) |
| ``SLA_ANALYSIS_PAUSE_AT`` / ``_PAUSE_S`` | ``pause_at`` / ``pause_s`` | none / 60 (tests only) |
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from sla_analysis.errors import ConfigError

#: each field's environment variable
ENV: dict[str, str] = {
    "project_root": "SLA_PROJECT_ROOT",
    "engine": "SLA_ANALYSIS_ENGINE",
    "duckdb_memory": "SLA_ANALYSIS_DUCKDB_MEMORY",
    "spark_master": "SLA_ANALYSIS_SPARK_MASTER",
    "spark_memory": "SLA_ANALYSIS_SPARK_MEMORY",
    "cap_workers": "SLA_ANALYSIS_CAP_WORKERS",
    "warm_kernels": "SLA_ANALYSIS_WARM_KERNELS",
    "cell_timeout_s": "SLA_ANALYSIS_CELL_TIMEOUT_S",
    "timings_file": "SLA_ANALYSIS_TIMINGS",
    "pause_at": "SLA_ANALYSIS_PAUSE_AT",
    "pause_s": "SLA_ANALYSIS_PAUSE_S",
}
_OFF = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """How a report runs. Not part of the SLA's assumptions (``config/sla.yml``): the same report
    comes out whatever these are, only sooner or later (``engine`` aside, which says where the
    data is)."""

    project_root: Path | None = None
    engine: str = "duckdb"
    duckdb_memory: str = "2GB"
    spark_master: str = "local[2]"
    spark_memory: str = "2g"
    cap_workers: int | None = None
    warm_kernels: bool = True
    cell_timeout_s: int = 1800
    timings_file: Path | None = None
    pause_at: str | None = None
    pause_s: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment asks for (unset or empty variables keep the defaults).
        Raises :class:`~sla_analysis.errors.ConfigError` naming the variable of a bad value."""
        env = os.environ if environ is None else environ
        given = {f: env[v].strip() for f, v in ENV.items() if env.get(v, "").strip()}
        out: dict[str, object] = {}
        for name, text in given.items():
            try:
                out[name] = _parse(name, text)
            except ValueError:
                raise ConfigError(f"{ENV[name]}={text!r}: {_EXPECTED[name]}") from None
        return cls(**out)

    def replace(self, **changes: object) -> Settings:
        """A copy with ``changes`` (None values are ignored: an option not given keeps the setting)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_env(self) -> dict[str, str]:
        """The environment variables that give a child process these settings: every field set
        (defaults included, so that they override the parent's variables; None fields left out)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[ENV[f.name]] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out


_EXPECTED = {
    "cap_workers": "expected a whole number of processes, at least 1",
    "cell_timeout_s": "expected a whole number of seconds, at least 1",
    "pause_s": "expected a number of seconds",
}


def _parse(name: str, text: str) -> object:
    if name in ("project_root", "timings_file"):
        return Path(text)
    if name == "warm_kernels":
        return text.lower() not in _OFF
    if name in ("cap_workers", "cell_timeout_s"):
        value = int(text)
        if value < 1:
            raise ValueError(text)
        return value
    if name == "pause_s":
        return float(text)
    return text


_active: list[Settings] = []


def current() -> Settings:
    """The settings of the run in progress (installed by :func:`using`), else the environment's."""
    return _active[-1] if _active else Settings.from_env()


@contextmanager
def using(settings: Settings) -> Iterator[Settings]:
    """Install ``settings`` for the duration of the block (the CLI's command, a report's run)."""
    _active.append(settings)
    try:
        yield settings
    finally:
        for i in range(len(_active) - 1, -1, -1):
            if _active[i] is settings:
                del _active[i]
                break
