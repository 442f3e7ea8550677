"""The sample generator is deterministic and its data agree with the truth it writes."""
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sla_analysis.io.sample import (
    SOURCES,
    SampleParams,
    close_rate,
    generate,
    solve_base_hazards,
)


def test_same_seed_same_data():
    p = replace(SampleParams(), n_leads=2000)
    a, b = generate(p), generate(p)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    c = generate(replace(p, seed=p.seed + 1))
    assert not a["activities"].equals(c["activities"])


def test_base_hazards_reproduce_the_seed_close_rates():
    p = SampleParams()
    h0 = solve_base_hazards(p)
    for source, value in h0.items():
        assert close_rate(value, p) == pytest.approx(SOURCES[source][1], rel=1e-6)


@pytest.mark.slow  # 120,000 leads
def test_generated_close_rates_match_truth(big_sample_dir):
    leads = pd.read_parquet(big_sample_dir / "leads.parquet")
    deals = pd.read_parquet(big_sample_dir / "deals.parquet")
    settled = leads[leads.mql_at.notna() & (leads.mql_at < "2024-06-01")]
    won = settled.lead_id.isin(deals.lead_id[deals.stage == "won"])
    for source, (_, rate) in SOURCES.items():
        sel = settled.source == source
        n = sel.sum()
        se = np.sqrt(rate * (1 - rate) / n)
        assert abs(won[sel].mean() - rate) < 4 * se, source


def test_sample_covers_2023_and_2024(sample_dir):
    leads = pd.read_parquet(sample_dir / "leads.parquet")
    assert leads.created_at.min() < pd.Timestamp("2023-01-15")
    assert leads.created_at.max() > pd.Timestamp("2024-12-15")
    assert set(leads.tier) == {"high", "moderate", "low"}


def test_cached_sample_made_by_older_generator_is_remade(tmp_path, monkeypatch):
    """data/processed/sample_crm is a cache: when sample.py changes, the next run regenerates it."""
    from sla_analysis import paths
    from sla_analysis.io import inputs, sample

    calls = []

    def fake_write_sample(out_dir, p=None):
        calls.append(out_dir)
        (out_dir / "truth.json").write_text('{"made": "now"}')
        return out_dir

    monkeypatch.setattr(paths, "PROCESSED_DIR", tmp_path)
    monkeypatch.setattr(paths, "SAMPLE_DIR", tmp_path / "sample_crm")
    monkeypatch.setattr(sample, "write_sample", fake_write_sample)  # inputs imports it when it needs it
    stale = tmp_path / "sample_crm"
    stale.mkdir()
    (stale / "truth.json").write_text('{"made": "by an older generator"}')
    (stale / "generator.txt").write_text("0000000000000000\n")

    out = inputs.ensure_sample(quiet=True)
    assert json.loads((out / "truth.json").read_text()) == {"made": "now"}
    assert (out / "generator.txt").read_text().strip() == inputs.sample_generator_version()
    inputs.ensure_sample(quiet=True)  # current now: not regenerated
    assert len(calls) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample_crm"]  # no temporary folders left
