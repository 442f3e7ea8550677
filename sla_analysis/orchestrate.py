"""The orchestrator: validate inputs, run the notebooks, export HTML, publish a period atomically.

``run_report`` is what ``python -m sla_analysis report`` (and so ``make report``) calls:

1. the period and the config are checked before anything else;
2. the inputs are validated and cached (:func:`sla_analysis.ingest.prepare_inputs`);
3. each notebook runs with papermill into a staging folder next to ``reports/``;
4. each executed notebook is exported to HTML without code, prompts or external URLs;
5. the notebooks' recorded figures are merged into ``summary.json``, ``index.html`` is written;
6. the staging folder replaces ``reports/<period>/`` with one rename, under a per-period lock.

A failure at any step removes the staging folder and leaves the published report as it was.
"""
from __future__ import annotations

import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from . import __version__, paths
from .config import SLAConfig, load_config
from .contract import find_input_file
from .ingest import prepare_inputs
from .periods import Period, parse_period

SUMMARY_SCHEMA_VERSION = "1"


class NotebookFailed(RuntimeError):
    """A report notebook raised; names the notebook and the cell."""


def _log(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def has_export(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a CRM export (at least a leads table)."""
    return data_dir.is_dir() and find_input_file(data_dir, "leads") is not None


def ensure_sample(quiet: bool = False) -> Path:
    """Generate the bundled sample CRM once (deterministic, so regenerating changes nothing)."""
    from .sample import write_sample

    if not (paths.SAMPLE_DIR / "truth.json").is_file():
        _log(f"Generating the sample CRM in {paths.SAMPLE_DIR} ...", quiet)
        tmp = Path(tempfile.mkdtemp(prefix=".sample-", dir=paths.PROCESSED_DIR))
        write_sample(tmp)
        try:
            os.rename(tmp, paths.SAMPLE_DIR)
        except OSError:  # generated meanwhile by a concurrent run
            shutil.rmtree(tmp, ignore_errors=True)
    return paths.SAMPLE_DIR


def resolve_inputs(data_dir: Path | None, quiet: bool = False, profile: str | None = None) -> Path:
    """Validate the export in ``data_dir`` (default ``data/raw``) and return its cache folder.

    ``profile`` reads it through a mapping file (``salesforce``, ``hubspot`` or a path).
    When the default folder holds no export, the bundled sample CRM is used and the console says so.
    """
    paths.PROCESSED_DIR.mkdir(parents=True, exist_ok=True)
    if profile:
        data_dir = Path(data_dir or paths.RAW_DIR)
        if not data_dir.is_dir():
            from .contract import ContractError, Violation
            raise ContractError([Violation(str(data_dir), "-", "data folder does not exist", 0, [])])
        return prepare_inputs(data_dir, profile=profile)
    if data_dir is None and not has_export(paths.RAW_DIR):
        _log("data/raw holds no CRM export: using the bundled SAMPLE CRM (generated, not real data).", quiet)
        return prepare_inputs(ensure_sample(quiet))
    data_dir = Path(data_dir or paths.RAW_DIR)
    if not data_dir.is_dir():
        from .contract import ContractError, Violation
        raise ContractError([Violation(str(data_dir), "-", "data folder does not exist", 0, [])])
    return prepare_inputs(data_dir)


@contextmanager
def period_lock(out_root: Path, label: str) -> Iterator[None]:
    """One run per period at a time: a second run of the same period waits for the first."""
    out_root.mkdir(parents=True, exist_ok=True)
    with open(out_root / f".{label}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=paths.PROJECT_ROOT,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def execute_notebook(name: str, staging: Path, parameters: dict) -> Path:
    """Run ``notebooks/<name>.ipynb`` with papermill into ``staging/notebooks``."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    out = staging / "notebooks" / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(str(paths.NOTEBOOKS_DIR / f"{name}.ipynb"), str(out), parameters=parameters,
                            kernel_name="python3", progress_bar=False, cwd=str(paths.NOTEBOOKS_DIR),
                            request_save_on_cell_execute=False)
    except PapermillExecutionError as err:
        raise NotebookFailed(f"notebook {name}.ipynb failed in cell {err.exec_count or err.cell_index}: "
                             f"{err.ename}: {err.evalue}") from None
    return out


def export_html(notebook: Path, target: Path, footer: str) -> None:
    """Executed notebook -> HTML page: no code, no prompts, nothing fetched from the network."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    for i, cell in enumerate(nb.cells):  # stable ids: the same inputs give the same bytes
        cell["id"] = f"cell-{i}"
    nb.metadata.pop("papermill", None)
    exporter = HTMLExporter(template_name="sla_report", extra_template_basedirs=[str(paths.TEMPLATES_DIR)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"sla_footer": footer})
    target.write_text(body, encoding="utf-8")


def page_title(name: str) -> str:
    """``04_lead_value_targets`` -> ``Lead value targets`` (``SLA`` and ``MQL`` kept in capitals)."""
    words = name.split("_", 1)[1].replace("_", " ").capitalize().split(" ")
    return " ".join(w.upper() if w.lower() in ("sla", "mql", "sql", "kpi", "kpis") else w for w in words)


def build_summary(period: Period, cfg: SLAConfig, manifest: dict, fragments: dict, pages: list[str]) -> dict:
    """The documented ``summary.json``: period, inputs, config used, and every headline figure."""
    headline: dict = {}
    for frag in fragments.values():
        for key, value in frag.items():
            if isinstance(value, dict) and isinstance(headline.get(key), dict):
                headline[key].update(value)
            else:
                headline[key] = value
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "period": {"label": period.label, "kind": period.kind, "start": period.start.isoformat(),
                   "end_exclusive": period.end.isoformat(), "months": period.months},
        "sample_data": bool(manifest.get("sample")),
        "inputs": {n: {"file": i["file"], "sha256": i["sha256"], "rows": i["rows"]}
                   for n, i in sorted(manifest["inputs"].items())},
        "currency": cfg.currency,
        "pages": pages,
        **{k: headline[k] for k in sorted(headline)},
    }


def write_workbook(path: Path, tables_dir: Path, period, manifest: dict, notebooks: tuple[str, ...]) -> Path:
    """``tables.xlsx``: an About sheet (period, inputs, hashes) and the tables the notebooks recorded,
    in page order."""
    from .workbook import write_tables

    files = sorted(tables_dir.glob("*.parquet")) if tables_dir.is_dir() else []
    order = {n: i for i, n in enumerate(notebooks)}
    files.sort(key=lambda p: (order.get(p.name.split("__")[0], 99), p.name))
    tables = {p.stem.split("__", 2)[2]: pd.read_parquet(p) for p in files}
    about = [("Report", f"Sales & marketing SLA report {period.label}"),
             ("Period", f"{period.start.isoformat()} to {period.end.isoformat()} (end excluded)"),
             ("Sample data", "yes: generated sample CRM" if manifest.get("sample") else "no"),
             ("Suite version", __version__)]
    about += [(f"Input: {n}", f"{i['file']} · {i['rows']:,} rows · sha256 {i['sha256']}")
              for n, i in sorted(manifest["inputs"].items())]
    about += [("Sheets", ", ".join(tables) or "none")]
    return write_tables(path, tables, about)


def run_report(period_text: str, data_dir: Path | None = None, config_path: Path | None = None,
               out_root: Path | None = None, notebooks: tuple[str, ...] | None = None,
               quiet: bool = False, before_publish: Callable[[Path], None] | None = None,
               profile: str | None = None) -> Path:
    """Build and publish ``<out_root>/<period>/``; returns its path. Raises on any failure,
    leaving the previously published report untouched."""
    from .index_page import write_index

    period = parse_period(period_text)
    cfg = load_config(config_path)
    out_root = Path(out_root or paths.REPORTS_DIR)
    notebooks = notebooks or paths.REPORT_NOTEBOOKS
    t0 = time.monotonic()
    _log(f"[1/{len(notebooks) + 3}] validating inputs", quiet)
    crm_dir = resolve_inputs(data_dir, quiet, profile)
    manifest = json.loads((crm_dir / "manifest.json").read_text())
    with period_lock(out_root, period.label):
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{period.label}-", dir=out_root))
        try:
            fragments_dir = staging / "fragments"
            fragments_dir.mkdir()
            params = {"period": period.label, "crm_dir": str(crm_dir.resolve()),
                      "config_path": str(Path(cfg.source_file).resolve()) if cfg.source_file else "",
                      "fragments_dir": str(fragments_dir)}
            hashes = ", ".join(f"{n} {i['sha256'][:12]}" for n, i in sorted(manifest["inputs"].items()))
            footer = (f"sla-analysis {__version__} · period {period.label} · inputs: {hashes}"
                      + (" · SAMPLE DATA" if manifest.get("sample") else ""))
            for i, name in enumerate(notebooks, start=2):
                _log(f"[{i}/{len(notebooks) + 3}] running {name}", quiet)
                executed = execute_notebook(name, staging, params)
                export_html(executed, staging / f"{name}.html", footer)
            _log(f"[{len(notebooks) + 2}/{len(notebooks) + 3}] writing summary.json and index.html", quiet)
            fragments = {p.stem: json.loads(p.read_text()) for p in sorted(fragments_dir.glob("*.json"))}
            write_workbook(staging / "tables.xlsx", fragments_dir / "tables", period, manifest, notebooks)
            shutil.rmtree(fragments_dir)
            summary = build_summary(period, cfg, manifest, fragments, [f"{n}.html" for n in notebooks])
            (staging / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
            provenance = {
                "run_started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "duration_s": round(time.monotonic() - t0, 1),
                "git_commit": _git_commit(), "suite_version": __version__,
                "python": platform.python_version(), "packages": _package_versions(),
                "inputs": manifest["inputs"], "data_dir": manifest.get("data_dir"),
                "config_file": cfg.source_file,
            }
            (staging / "provenance.json").write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
            write_index(staging / "index.html", summary, [(f"{n}.html", page_title(n)) for n in notebooks], footer)
            if before_publish:
                before_publish(staging)
            target = publish(staging, out_root / period.label)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _log(f"[{len(notebooks) + 3}/{len(notebooks) + 3}] published {target} ({time.monotonic() - t0:.0f} s)", quiet)
    return target


def publish(staging: Path, target: Path) -> Path:
    """Swap ``staging`` in for ``target``: the old report is moved aside, the new one renamed in,
    then the old one removed. Readers see the old or the new report, never a half-made one."""
    old = None
    if target.exists():
        old = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def _package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("pandas", "numpy", "duckdb", "ibis-framework", "pandera", "statsmodels", "seaborn",
                 "matplotlib", "papermill", "nbconvert"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out
