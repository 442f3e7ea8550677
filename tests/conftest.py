"""Shared fixtures: tiny hand-written CRM exports and the sample CRM (the exports themselves and
their helpers are in ``tests/helpers.py``)."""
from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sla_analysis.io.engine import open_crm
from sla_analysis.io.ingest import prepare_inputs
from sla_analysis.io.sample import SampleParams, write_sample
from tests.helpers import ACTIVITIES, DEALS, LEADS, only_required_columns, open_export, write_csv  # noqa: F401


@pytest.fixture
def crm_dir(tmp_path):
    """A valid three-table export; tests edit copies of the rows to break one rule at a time."""
    def make(leads=LEADS, activities=ACTIVITIES, deals=DEALS, **kwargs) -> Path:
        d = tmp_path / "export"
        d.mkdir(exist_ok=True)
        write_csv(d / "leads.csv", leads, kwargs.get("lead_fields"))
        write_csv(d / "activities.csv", activities, kwargs.get("activity_fields"))
        write_csv(d / "deals.csv", deals, kwargs.get("deal_fields"))
        return d
    return make


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """The default sample CRM (24,000 leads), generated once per test session."""
    return write_sample(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def sample_cache(sample_dir, tmp_path_factory) -> Path:
    """The sample CRM validated once per test session (its cache folder)."""
    return prepare_inputs(sample_dir, cache_root=tmp_path_factory.mktemp("sample-cache"))


@pytest.fixture(scope="session")
def sample_crm(sample_cache):
    """The sample CRM, opened once per test session and shared by the analysis tests (read-only;
    what it caches, e.g. the period's attempt cap, is reused across modules)."""
    return open_crm(sample_cache)


@pytest.fixture(scope="session")
def sample_truth(sample_dir) -> dict:
    return json.loads((sample_dir / "truth.json").read_text())


@pytest.fixture(scope="session")
def big_sample_dir(tmp_path_factory) -> Path:
    """A larger sample (120,000 leads) for tests that check estimates against the truth."""
    from dataclasses import replace
    return write_sample(tmp_path_factory.mktemp("big"), replace(SampleParams(), n_leads=120_000, seed=7))


@pytest.fixture(scope="session")
def published_sample(tmp_path_factory, sample_dir) -> Path:
    """The sample's full reports for 2024Q1 and 2023Q1, published once per session by the CLI as a
    scheduler runs it, and read (never written) by the end-to-end, browser and proposal tests. 2023Q1
    is the period before the data has any stale lead: its pages say what is missing (one report
    serves the browser's list of periods and that check)."""
    out = tmp_path_factory.mktemp("published")
    for period in ("2024Q1", "2023Q1"):
        res = subprocess.run([sys.executable, "-m", "sla_analysis", "report", "--period", period, "--data", str(sample_dir),
                              "--out", str(out)], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                             timeout=1800)
        assert res.returncode == 0, res.stderr
        assert "warning (" not in res.stderr, res.stderr  # a warning is an error over the sample, never on a page
    return out


#: fixtures that generate, validate or report on a CRM of thousands of leads (directly or through
#: the fixtures they use): a test that uses one is not in the unit tier
GENERATED_CRM_FIXTURES = frozenset({"sample_dir", "big_sample_dir", "small_crm", "small_sample", "tables",
                                    "published", "bank_published", "sample"})
#: markers of the tiers above the unit one (``sim``: simulated histories of thousands of leads)
NOT_UNIT = ("slow", "browser", "real", "spark", "postgres", "sim", "process")


#: calls that simulate histories of thousands of leads (a test making one is ``sim``)
SIMULATIONS = ("simulate_profiles(", "simulate_leads(", "_simulated_counts(", "run_study(", "_simulate(")


def _simulates(item) -> bool:
    try:
        return any(call in inspect.getsource(getattr(item, "function", None)) for call in SIMULATIONS)
    except (OSError, TypeError):
        return False


def pytest_addoption(parser):
    parser.addoption("--unit-shard", default=None, metavar="K/N",
                     help="of the unit tier, run every N-th test from the K-th (0-based): make test-unit runs "
                          "one shard per core")


def pytest_collection_modifyitems(config, items):
    """``unit``: every test that needs no generated CRM larger than a few hundred leads, no report
    run, no simulation study and no kernel or worker process (``make test-unit``)."""
    for item in items:
        if _simulates(item):
            item.add_marker(pytest.mark.sim)
        if any(item.get_closest_marker(m) for m in NOT_UNIT):
            continue
        if GENERATED_CRM_FIXTURES & set(getattr(item, "fixturenames", ())):
            continue
        item.add_marker(pytest.mark.unit)
    shard = config.getoption("--unit-shard")
    if shard:
        try:
            k, n = (int(x) for x in shard.split("/"))
        except ValueError:
            raise pytest.UsageError(f"--unit-shard takes K/N (e.g. 0/2), got {shard!r}") from None
        if not 0 <= k < n:
            raise pytest.UsageError(f"--unit-shard {shard}: K must be from 0 to N - 1")
        unit = [item for item in items if item.get_closest_marker("unit")]
        keep = {id(item) for item in unit[k::n]}
        config.hook.pytest_deselected(items=[item for item in items if id(item) not in keep])
        items[:] = [item for item in items if id(item) in keep]
