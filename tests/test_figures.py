"""The report's figures as one graph (sla_analysis/figures): each figure defined once, computed once
per report, absent with the profile's reason when the export lacks what it needs; a report's page
reads the stored figures and never the export."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sla_analysis import paths
from sla_analysis.errors import FigureError
from sla_analysis.figures import graph
from sla_analysis.figures.graph import INPUTS, REGISTRY, Figures, dependencies, figure, page_figures
from sla_analysis.results import Result

ROOT = Path(__file__).resolve().parents[1]


def _page_code(page: str) -> str:
    cells = json.loads((paths.NOTEBOOKS_DIR / f"{page}.ipynb").read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_every_figure_states_its_definition_and_is_computed_from_inputs_and_figures():
    assert len(REGISTRY) > 50
    for name, fig in REGISTRY.items():
        assert fig.definition, f"{name} has no docstring stating what it is"
        unknown = [p for p in fig.inputs if p not in INPUTS and p not in REGISTRY]
        assert not unknown, f"{name} reads {unknown}: neither report inputs nor figures"
    assert set(dependencies(REGISTRY)) == set(REGISTRY)  # no cycle


def test_every_page_has_figures_and_every_figure_a_page_or_a_reader():
    readers = {dep for fig in REGISTRY.values() for dep in fig.inputs}
    for name, fig in REGISTRY.items():
        assert fig.pages or name in readers, f"{name} is shown nowhere and read by no figure"
    for page in paths.REPORT_NOTEBOOKS:
        assert page_figures(page), page


@pytest.fixture
def toy(monkeypatch):
    """A registry of three toy figures, counting their calls."""
    monkeypatch.setattr(graph, "REGISTRY", {})
    calls: list[str] = []

    @figure(pages=("p",))
    def base(period) -> int:
        """The period plus one."""
        calls.append("base")
        return period + 1

    @figure(pages=("p",))
    def twice(base) -> int:
        """Twice the base."""
        calls.append("twice")
        return 2 * base

    @figure(pages=("q",))
    def total(base, twice) -> int:
        """Base plus twice."""
        calls.append("total")
        return base + twice

    return calls


def test_a_figure_read_by_several_is_computed_once(toy):
    f = Figures(None, None, 1)
    assert f["total"] == 6 and f["twice"] == 4 and f["base"] == 2
    assert sorted(toy) == ["base", "total", "twice"]  # base once, though two figures read it
    assert graph.page_figures("p") == ["base", "twice"] and graph.page_figures("q") == ["base", "twice", "total"]


def test_a_stored_page_reads_only_what_the_report_computed(toy, tmp_path):
    Figures(None, None, 1).compute(graph.page_figures("p")).save(tmp_path / "figures.pkl")
    toy.clear()
    stored = Figures.load(tmp_path / "figures.pkl")
    assert stored["twice"] == 4 and toy == []  # read, not computed again
    with pytest.raises(FigureError, match="'total' was not computed for this page"):
        stored["total"]


def test_unknown_figures_and_cycles_are_named(monkeypatch):
    monkeypatch.setattr(graph, "REGISTRY", {})

    @figure()
    def a(b) -> int:
        """A."""
        return b

    @figure()
    def b(a) -> int:
        """B."""
        return a

    with pytest.raises(FigureError, match="cycle: a -> b -> a"):
        dependencies(["a"])
    with pytest.raises(FigureError, match="no figure is named 'c'"):
        dependencies(["c"])
    with pytest.raises(FigureError, match="defined twice"):
        figure()(a)


def test_a_figure_whose_needs_the_export_lacks_is_absent_with_the_profiles_reason(monkeypatch):
    monkeypatch.setattr(graph, "REGISTRY", {})
    calls = []

    @figure(needs=("amounts",))
    def revenue(crm) -> float:
        """Won revenue."""
        calls.append(1)
        return 5.0

    class Profile:
        def __init__(self, lacks):
            self.lacks = lacks

        def unmet(self, *facts):
            return "the deals have no amounts" if self.lacks & set(facts) else None

    crm_without = type("CRM", (), {"profile": Profile({"amounts"})})()
    crm_with = type("CRM", (), {"profile": Profile(set())})()
    absent = Figures(crm_without, None, None)["revenue"]
    assert isinstance(absent, Result) and not absent and absent.reason == "the deals have no amounts" and not calls
    assert Figures(crm_with, None, None)["revenue"] == Result.of(5.0)


def test_no_page_reads_the_export_or_computes_a_figure():
    """A page reads its context's figures: it has no handle on the export and calls no function
    that queries it (the analyses' functions taking ``crm``)."""
    for page in paths.REPORT_NOTEBOOKS:
        code = _page_code(page)
        assert not re.search(r"\bcrm\b(?!_dir)", code), f"{page} touches the export"
        # functions of the analyses whose first parameter is the export
        for name, fig in REGISTRY.items():
            if "crm" in fig.inputs:
                assert f"({name}(" not in code


def test_every_figure_a_page_asks_for_is_computed_for_it():
    for page in paths.REPORT_NOTEBOOKS:
        code = _page_code(page)
        asked = set(re.findall(r'ctx\[["\']([a-z_]+)["\']\]', code))
        assert asked, page
        missing = asked - set(page_figures(page))
        assert not missing, f"{page} asks for {sorted(missing)}, which its report does not compute"
        for prefix in re.findall(r'ctx\[f"([a-z_]+)\{', code):  # ctx[f"speed_to_lead_by_{by}"]: a report's run checks each
            assert any(n.startswith(prefix) for n in page_figures(page)), (page, prefix)


def test_the_architecture_page_draws_the_current_graph():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    assert "```mermaid\n" + graph.mermaid() + "```" in doc, (
        "docs/architecture.md's graph is out of date: paste the output of "
        "`python -c 'from sla_analysis.figures.graph import mermaid; print(mermaid(), end=\"\")'`")


def test_the_one_sdr_headcount_is_the_count_that_binds():
    import pandas as pd

    from sla_analysis.figures.proposal import sdr_headcount

    cap = pd.DataFrame({"owner_id": ["a", "b", "(none)"]})
    plan = (cap, None, 500.0, {"sdrs_by_sql_output": 4.6, "sdrs_by_active_mqls_low": 3.0, "sdrs_by_active_mqls_high": 4.0})
    hours = {"capacity": {"available": True, "sdrs_needed": 10.6, "today_sdrs": 2}}
    out = sdr_headcount(plan, hours)
    assert out["binding"] == "hours" and out["sdrs_needed"] == [10.6, 10.6] and out["sdrs_today"] == 2
    assert sdr_headcount(plan, {"capacity": {"available": False}})["binding"] == "sql_output"
    busy = (cap, None, 500.0, {"sdrs_by_sql_output": 4.6, "sdrs_by_active_mqls_low": 11.9, "sdrs_by_active_mqls_high": 15.8})
    assert sdr_headcount(busy, hours)["sdrs_needed"] == [11.9, 15.8]
    unknown = (cap, None, float("nan"), {"sdrs_by_sql_output": float("nan"), "sdrs_by_active_mqls_low": float("nan"),
                                        "sdrs_by_active_mqls_high": float("nan")})
    assert not sdr_headcount(unknown, {"capacity": {"available": False}})["available"]


def test_a_figure_computed_ahead_in_its_own_thread_gives_the_same_values(toy):
    import threading

    seen = []

    @figure(pages=("q",))
    def slow(base) -> int:
        """Computed ahead."""
        seen.append(threading.current_thread().name)
        return base * 10

    @figure(pages=("q",))
    def after(slow, total) -> int:
        """Needs the ahead figure."""
        return slow + total

    f = Figures(None, None, 1).compute(["after"], ahead=["slow"], inputs_for_ahead=lambda: {"period": 1})
    assert f["after"] == 26 and f["slow"] == 20 and seen[0].startswith("figures-ahead")
    assert Figures(None, None, 1).compute(["after"])["after"] == 26  # the same without it
