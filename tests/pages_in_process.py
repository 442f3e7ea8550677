"""A report's pages run in this process: the code cells of each notebook, with the parameters the
orchestrator gives them, then ``summary.json``, ``tables.xlsx`` and ``index.html`` written from
what the pages recorded, as :mod:`sla_analysis.report.run` writes them. The unit tier's way to
check that a config or an export publishes, without kernels or the HTML export (those are
checked by the end-to-end tests)."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

import matplotlib
import nbformat

from sla_analysis import paths, settings
from sla_analysis.config import load_config
from sla_analysis.figures import FIGURES_FILE
from sla_analysis.figures.graph import summary_sections
from sla_analysis.periods import parse_period
from sla_analysis.report.appearances import write_appearance_map
from sla_analysis.report.index_page import write_index
from sla_analysis.report.publish import build_summary, page_title, write_workbook
from sla_analysis.report.run import compute_figures, write_figure_files


@contextlib.contextmanager
def _cap_refits_in_process():
    """The attempt cap's refits in this process: forking the test process (its engine and BLAS
    threads running) for the cap's worker processes can crash the child, which a report's kernels,
    forked from a quiet server, do not risk."""
    with settings.using(settings.current().replace(cap_workers=1)):
        yield


def run_page(name: str, parameters: dict) -> dict:
    """Run notebook ``name``'s code cells in a fresh namespace after its ``parameters`` cell; the
    namespace is returned. An error in a cell propagates, naming the page and the cell."""
    with _cap_refits_in_process():
        return _run_page(name, parameters)


def _run_page(name: str, parameters: dict) -> dict:
    matplotlib.use("Agg")
    nb = nbformat.read(paths.NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    ns: dict = {"__name__": f"page_{name}"}
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        exec(compile(cell.source, f"{name}.ipynb[code cell {i}]", "exec"), ns)  # noqa: S102 - our own notebooks
        if "parameters" in cell.metadata.get("tags", []):
            ns.update(parameters)
    import matplotlib.pyplot as plt
    plt.close("all")
    return ns


def run_pages(crm_dir: Path, period: str, out: Path, config_path: Path | None = None,
              pages: tuple[str, ...] | None = None) -> dict:
    """The pages (default: every page) of the report for ``period`` on the validated export
    ``crm_dir``, their figures computed once first, as the orchestrator does; writes
    ``summary.json``, ``tables.xlsx``, ``index.html`` and the page 07 files into ``out`` and
    returns the summary."""
    cfg = load_config(config_path)
    p = parse_period(period)
    pages = pages or paths.REPORT_NOTEBOOKS
    fragments = out / "fragments"
    fragments.mkdir(parents=True)
    with _cap_refits_in_process():
        figures = compute_figures(Path(crm_dir), cfg, p, pages)
    figures.save(fragments / FIGURES_FILE)
    write_figure_files(figures, pages, out)
    params = {"period": p.label, "crm_dir": str(crm_dir), "config_path": str(config_path or ""),
              "fragments_dir": str(fragments)}
    for name in pages:
        run_page(name, params)
    manifest = json.loads((Path(crm_dir) / "manifest.json").read_text())
    from sla_analysis.io.engine import open_crm

    summary = build_summary(p, cfg, manifest, {"figures": summary_sections(figures, pages)},
                            [f"{n}.html" for n in pages], open_crm(crm_dir, engine="duckdb").profile)
    write_workbook(out / "tables.xlsx", fragments / "tables", p, manifest, pages, cfg.currency,
                   summary.get("limits") or {})
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    write_index(out / "index.html", summary, [(f"{n}.html", page_title(n)) for n in pages], "test")
    write_appearance_map(out, ["index.html"])
    return summary
