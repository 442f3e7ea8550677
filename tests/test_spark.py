"""ENGINE=spark: the whole report on a small sample, on Spark (local mode) and on DuckDB; every
figure in summary.json must agree. Run by `make test-spark` (which installs pyspark)."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from sla_analysis.io.sample import SampleParams, write_sample
from sla_analysis.report import run as report_run

pytestmark = pytest.mark.spark


def _differences(a, b, path="") -> list[str]:
    """Where two summaries differ: exact for text, integers and booleans; floats to 1e-9 relative
    (the engines may add in another order)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}/{k}: only in one" for k in set(a) ^ set(b)]
        return out + [d for k in sorted(set(a) & set(b), key=str) for d in _differences(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, (int, float)) or isinstance(b, float) and isinstance(a, (int, float)):
        if math.isnan(a) and math.isnan(b) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
            return []
        return [f"{path}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def test_spark_and_duckdb_give_the_same_summary(tmp_path, capfd):
    import pyspark  # noqa: F401

    data = write_sample(tmp_path / "crm", replace(SampleParams(), n_leads=3000))
    runs = {}
    for engine in ("duckdb", "spark"):
        report = report_run.run_report("2024Q1", data, None, tmp_path / engine, quiet=True, engine=engine)
        runs[engine] = json.loads((report / "summary.json").read_text())
        assert json.loads((report / "provenance.json").read_text())["engine"] == engine
    # the JVM's start-up notices stay out of the scheduler's log (io/spark-log4j2.properties)
    err = capfd.readouterr().err
    assert "WARN" not in err and "Setting default log level" not in err, err[-2000:]
    diffs = _differences(runs["duckdb"], runs["spark"])
    assert not diffs, "\n".join(diffs[:40])
    assert runs["spark"]["plateau"]["recommended_attempts"] is not None
    assert runs["spark"]["compliance"]["mqls"] > 0
