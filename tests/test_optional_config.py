"""A report publishes whatever optional config key is left out.

Every key of ``config/sla.yml`` is optional: left out, it takes the default :class:`SLAConfig`
declares, and several defaults are "not set" (no score threshold, no business hours, no baseline,
no goals, no date the SLA was written...). Each key is omitted in turn from a config that sets every
key, and the pages whose code reads that key (found by watching which fields each page reads, not
from a hand-kept list) run with it gone. A page that reads a key as if it were always set fails
here. The two full reports the decisions issue asks for (every optional key omitted; the sample's
proposal adopted as the next period's config) run through the CLI in ``test_end_to_end``.
"""
from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import fields, replace
from pathlib import Path

import pytest
import yaml

from sla_analysis import paths
from sla_analysis.config import SLAConfig, config_from_dict, config_to_dict, load_config
from sla_analysis.io.ingest import prepare_inputs
from sla_analysis.io.sample import SampleParams, write_sample
from tests.pages_in_process import run_pages
from tests.schema_check import assert_valid_summary

PERIOD = "2024Q1"

#: a config that sets every key, the optional ones included, each to a value unlike its default
FULL = {
    **yaml.safe_load((paths.PROJECT_ROOT / "sla_analysis" / "defaults" / "sla.yml").read_text()),
    "business_hours": {"days": "mon-fri", "hours": ["08:00", "18:00"], "timezone": "UTC", "holidays": ["2024-01-01"]},
    "gross_margin": 0.7,
    "min_gain_per_month": 5000.0,
    "score_band_width": 10,
    "lead_work_cost": 40.0,
    "mql_score_threshold": 60,
    "goals": {"leads_sourced": 1100, "qualified_leads": 700, "mqls_created": 900, "mqls_managed": 800, "sqls": 60},
    "contract": {"sales_owner": "Jane Doe", "sales_role": "VP Sales", "marketing_owner": "John Roe",
                 "marketing_role": "VP Marketing", "revops_owner": "Ann Lee", "effective_date": "2024-04-15",
                 "term_months": 18, "accept_within_days": 3, "escalate_after_misses": 3,
                 "review_meeting": "the second Tuesday of each month"},
}
FIELDS = [f.name for f in fields(SLAConfig) if f.name != "source_file"]


def test_the_full_config_sets_every_key():
    assert sorted(FULL) == sorted(FIELDS)  # a key added to SLAConfig is added here, so it is omitted below


def test_the_config_round_trips_through_its_dict_form():
    cfg = config_from_dict(FULL)
    again = config_from_dict(yaml.safe_load(yaml.safe_dump(config_to_dict(cfg))))
    assert again == cfg
    assert config_to_dict(cfg)["gross_margin"] == 0.7 and list(config_to_dict(cfg)) == FIELDS


def _nested_keys() -> list[tuple[str, ...]]:
    out = [(k,) for k in FULL]
    for k, v in FULL.items():
        if isinstance(v, dict):
            for sub, subv in v.items():
                if k != "tiers":  # a tier's name is not a key to omit (default_tier names one); its fields are
                    out.append((k, sub))
                if isinstance(subv, dict):
                    out += [(k, sub, leaf) for leaf in subv]
    return out


def _without(raw: dict, key: tuple[str, ...]) -> dict:
    out = copy.deepcopy(raw)
    here = out
    for k in key[:-1]:
        here = here[k]
    del here[key[-1]]
    return out


@pytest.mark.parametrize("key", _nested_keys(), ids=".".join)
def test_every_key_at_every_level_can_be_omitted(key):
    cfg = config_from_dict(_without(FULL, key))
    if len(key) == 1 and key[0] != "tiers":
        default = getattr(SLAConfig(), key[0])
        assert getattr(cfg, key[0]) == default  # omitted: the default SLAConfig declares, never an error


@pytest.fixture(scope="module")
def small_crm(tmp_path_factory) -> Path:
    """A 1,500-lead sample CRM, validated: every page has something to show for 2024Q1."""
    root = tmp_path_factory.mktemp("small")
    export = write_sample(root / "export", replace(SampleParams(), n_leads=1500))
    return prepare_inputs(export, cache_root=root / "cache")


@pytest.fixture(scope="module")
def keys_read(small_crm, tmp_path_factory) -> dict[str, set[str]]:
    """Which config fields each page reads, watched while the pages run on the full config."""
    folder = tmp_path_factory.mktemp("full")
    config = folder / "full.yml"
    config.write_text(yaml.safe_dump(FULL))
    reads: dict[str, set[str]] = {}
    names = set(FIELDS)
    original = SLAConfig.__getattribute__
    for page in paths.REPORT_NOTEBOOKS:
        seen: set[str] = set()

        def watch(self, name, seen=seen):
            if name in names:
                seen.add(name)
            return original(self, name)

        SLAConfig.__getattribute__ = watch
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                run_pages(small_crm, PERIOD, folder / page, config, pages=(page,))
        finally:
            SLAConfig.__getattribute__ = original
        reads[page] = seen
    return reads


@pytest.mark.slow
def test_the_watch_sees_the_keys_a_page_reads(keys_read):
    # page 06 compares score bands around the threshold; page 07 writes every key into proposal.yml
    assert {"mql_score_threshold", "score_band_width", "lead_work_cost"} <= keys_read["06_lead_qualification"]
    assert keys_read["07_proposed_sla"] >= set(FIELDS) - {"source_file"}
    assert "business_hours" in keys_read["05_sla_compliance"] and "goals" in keys_read["05_sla_compliance"]


@pytest.mark.slow
@pytest.mark.parametrize("key", FIELDS)
def test_each_page_reading_a_key_runs_without_it(key, keys_read, small_crm, tmp_path):
    pages = [p for p, keys in keys_read.items() if key in keys]
    assert pages, f"no page reads {key!r}: a config key nothing reads should not exist"
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(_without(FULL, (key,))))
    assert key not in yaml.safe_load(config.read_text())
    # the pages together, as a report runs them: their figures computed once, then each page drawn
    with contextlib.redirect_stdout(io.StringIO()):
        run_pages(small_crm, PERIOD, tmp_path / "report", config, pages=tuple(pages))
    written = tmp_path / "report" / "proposal.yml"
    if "07_proposed_sla" in pages:  # the proposal is a config the next period can load
        assert load_config(written).currency


@pytest.mark.slow
def test_the_report_publishes_with_an_empty_config(small_crm, tmp_path):
    config = tmp_path / "empty.yml"
    config.write_text("{}\n")
    with contextlib.redirect_stdout(io.StringIO()):
        summary = run_pages(small_crm, PERIOD, tmp_path / "report", config)
    assert_valid_summary(summary)
    proposal = summary["proposal"]
    assert proposal["handoff"]["current_threshold"] is None
    md = (tmp_path / "report" / "sla_proposal.md").read_text()
    assert "a lead score of not set" not in md and "KeyError" not in md
    adopted = load_config(tmp_path / "report" / "proposal.yml")
    for tier, row in proposal["sales"]["tiers"].items():
        assert adopted.tiers[tier].touches == row["touches"]["value"]
    assert adopted.gross_margin == SLAConfig().gross_margin and adopted.sla_written == proposal["review"]["agreed_on"]
