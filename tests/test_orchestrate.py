"""The orchestrator's notebook scheduling and stage timings (no kernels: fake notebooks)."""
from __future__ import annotations

import json
import signal
import threading
import time

import pytest

from sla_analysis.report.run import Stopwatch, run_notebooks


def test_notebooks_run_at_most_jobs_at_once_and_all_run():
    running, peak, done, lock = [0], [0], [], threading.Lock()

    def run_one(name):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
            done.append(name)

    names = tuple(f"nb{i}" for i in range(7))
    run_notebooks(names, run_one, jobs=3)
    assert sorted(done) == sorted(names) and peak[0] == 3
    done.clear()
    run_notebooks(names, run_one, jobs=1)
    assert done == list(names)  # one at a time: in the given order


def test_first_failure_in_order_is_raised_and_nothing_new_starts():
    started = []

    def run_one(name):
        started.append(name)
        if name in ("b", "c"):
            time.sleep(0.1 if name == "b" else 0.0)  # c fails first in time, b comes first in order
            raise RuntimeError(f"{name} failed")
        time.sleep(0.3)

    with pytest.raises(RuntimeError, match="b failed"):
        run_notebooks(("a", "b", "c", "d", "e"), run_one, jobs=3)
    assert "d" not in started and "e" not in started


def test_stopwatch_records_stages_and_writes_timings(tmp_path, monkeypatch):
    monkeypatch.setenv("SLA_ANALYSIS_TIMINGS", str(tmp_path / "t.jsonl"))
    watch = Stopwatch()
    with watch.stage("validate"):
        time.sleep(0.05)
    with pytest.raises(ValueError):
        with watch.stage("notebook:x"):
            raise ValueError
    assert set(watch.stages) == {"validate", "notebook:x"} and watch.stages["validate"] >= 0.05
    lines = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [x["stage"] for x in lines] == ["validate", "notebook:x"]
    assert all(x["end"] >= x["start"] for x in lines)


def test_engine_is_checked_and_passed_quoted(capsys):
    import os
    import subprocess
    from pathlib import Path

    from sla_analysis.cli import main
    from sla_analysis.io.engine import engine_name

    assert main(["report", "--period", "2024Q1", "--engine", "oracle"]) == 2
    assert "engine must be one of duckdb, spark or an Ibis connection URL" in capsys.readouterr().err
    assert engine_name("mssql://u@h/db") == "mssql://u@h/db" and engine_name(None) in ("duckdb", "spark")
    import importlib.util

    import pytest

    from sla_analysis.errors import EngineError
    for engine, driver, target in (("postgres://u@h/db", "psycopg", "make install-postgres"),
                                   ("spark", "pyspark", "make install-spark")):
        if importlib.util.find_spec(driver) is None:  # refused up front, naming the target that installs it
            with pytest.raises(EngineError, match=target):
                engine_name(engine)
        else:
            assert engine_name(engine) == engine
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    res = subprocess.run(["make", "--no-print-directory", "-n", "report", "PERIOD=2024Q1", "ENGINE=spark; x"],
                         cwd=root, capture_output=True, text=True, timeout=60, env=env)
    assert "--engine 'spark; x'" in next(ln for ln in res.stdout.splitlines() if "--period" in ln)


def test_an_interrupt_stops_scheduling_notebooks():
    """Ctrl-C or a stop signal in the main thread: the notebooks not started yet never start."""
    import _thread

    started = []

    def run_one(name):
        started.append(name)
        if name == "a":
            _thread.interrupt_main()  # as if Ctrl-C reached the run while notebook a runs
        time.sleep(0.5)

    # Ctrl-C as a plain Python process has it: interrupt_main() does nothing while SIGINT is ignored or
    # left to the system, and a test run earlier in the session may have left it so (seen once in CI)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_notebooks(("a", "b", "c", "d"), run_one, jobs=1)
        time.sleep(0.8)  # a's worker finishes its sleep: it must not pick up b
    finally:
        signal.signal(signal.SIGINT, previous)
    assert started == ["a"]


def test_notebooks_start_in_the_order_given_and_the_first_failure_in_page_order_is_raised():
    started = []
    lock = threading.Lock()

    def run_one(name):
        with lock:
            started.append(name)
        if name == "b":
            raise RuntimeError("b failed")
        if name == "c":
            time.sleep(0.1)
            raise RuntimeError("c failed")

    run_notebooks(("a", "d", "e"), run_one, jobs=1, order=("e", "a", "d"))
    assert started == ["e", "a", "d"]
    started.clear()
    # the error reported is the first in page order, whatever the start order; nothing starts after it
    with pytest.raises(RuntimeError, match="b failed"):
        run_notebooks(("a", "b", "c"), run_one, jobs=2, order=("c", "b", "a"))
    assert sorted(started) == ["b", "c"]
