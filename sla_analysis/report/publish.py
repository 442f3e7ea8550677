"""Publishing a report: one run per period at a time, the pages exported to HTML, ``summary.json``,
``tables.xlsx`` and ``provenance.json`` written, then the staging folder swapped into
``reports/<PERIOD>/`` in one atomic exchange (the previous report stays whole until that instant)."""
from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import os
import re
import shutil
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Iterator

import nbformat
import numpy as np
import pandas as pd
from nbconvert import HTMLExporter

from sla_analysis import __version__, paths
from sla_analysis.config import SLAConfig
from sla_analysis.console import log as _log
from sla_analysis.io.export_profile import ExportProfile
from sla_analysis.periods import Period
from sla_analysis.report.marks import NOT_AVAILABLE_MARK
from sla_analysis.report.workbook import write_tables

SUMMARY_SCHEMA_VERSION = "2"
#: the JSON Schema ``summary.json`` follows, shipped with the package (checked in the tests)
SUMMARY_SCHEMA = Path(__file__).with_name("summary.schema.json")


@contextmanager
def period_lock(out_root: Path, label: str, quiet: bool = False) -> Iterator[None]:
    """One run per period at a time: a second run of the same period waits for the first (the lock
    is released by the kernel when a run dies, however it dies)."""
    out_root.mkdir(parents=True, exist_ok=True)
    with open(out_root / f".{label}.lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _log(f"another run of {label} is in progress: waiting for it to finish ...", quiet)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def remove_leftovers(out_root: Path, label: str, quiet: bool = False) -> list[str]:
    """What an interrupted run of ``label`` left in ``out_root`` (call it holding the period's lock):
    its staging folder is removed; a report moved aside by an interrupted publish is put back if the
    period has none, else removed. Returns the names removed or restored."""
    staging = re.compile(rf"\.staging-{re.escape(label)}-[a-z0-9_]{{8}}")
    old = re.compile(rf"\.old-{re.escape(label)}-\d+")
    target, done = out_root / label, []
    for p in sorted(out_root.iterdir()):
        if old.fullmatch(p.name) and p.is_dir() and not target.exists():
            os.rename(p, target)
            done.append(p.name)
        elif (staging.fullmatch(p.name) or old.fullmatch(p.name)) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            done.append(p.name)
    if done:
        _log(f"removed what an interrupted run of {label} left behind: {', '.join(done)}", quiet)
    return done


def export_html(notebook: Path, target: Path, footer: str, title: str = "", previous: tuple[str, str] | None = None,
                next: tuple[str, str] | None = None) -> list[str]:
    """Executed notebook -> HTML page: no code, no prompts, nothing fetched from the network; the
    page's ``title``, and links to the period's summary, the previous and next pages and tables.xlsx.
    What the page's code wrote to stderr (a library's warning, with its file path) is never shown:
    it is returned, for the run's log."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells, logged = without_stderr(without_unsupported_notes(nb.cells))
    for i, cell in enumerate(nb.cells):  # stable ids: the same inputs give the same bytes
        cell["id"] = f"cell-{i}"
    nb.metadata.pop("papermill", None)
    if title:
        nb.metadata["title"] = title
    exporter = HTMLExporter(template_name="sla_report", extra_template_basedirs=[str(paths.TEMPLATES_DIR)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"sla_footer": footer,
                                                         "sla_nav": {"previous": previous, "next": next}})
    target.write_text(body, encoding="utf-8")
    return logged


def without_stderr(cells: list) -> tuple[list, list[str]]:
    """The cells without their stderr outputs, and those outputs' text (a page shows the report,
    never a warning meant for whoever runs it)."""
    logged = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                logged.append("".join(out.get("text", "")).strip())
            else:
                kept.append(out)
        cell["outputs"] = kept
    return cells, [t for t in logged if t]


def without_unsupported_notes(cells: list) -> list:
    """The cells to publish: a Markdown cell tagged ``about-chart`` explains the chart of the code cell
    above it and is left out when that cell showed no chart; one tagged ``about-result`` is left out
    when that cell said "not available" (:func:`sla_analysis.report.notebook.not_available`) or
    showed nothing. A page never describes a chart or table it does not show."""
    kept, above = [], None
    for cell in cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.get("cell_type") == "markdown" and above is not None and tags & {"about-chart", "about-result"}:
            data = [o.get("data", {}) for o in above.get("outputs", [])]
            charts = any("image/png" in d for d in data)
            missing = any(NOT_AVAILABLE_MARK in "".join(d.get("text/markdown", "")) for d in data) or not data
            if ("about-chart" in tags and not charts) or ("about-result" in tags and missing):
                continue
        if cell.get("cell_type") == "code":
            above = cell
        kept.append(cell)
    return kept


def page_links(notebooks: tuple[str, ...], name: str) -> dict:
    """``export_html``'s title and its previous and next pages (file, title) in reading order."""
    i = notebooks.index(name)
    link = (lambda n: (f"{n}.html", page_title(n)))
    return {"title": page_title(name), "previous": link(notebooks[i - 1]) if i > 0 else None,
            "next": link(notebooks[i + 1]) if i + 1 < len(notebooks) else None}


def page_title(name: str) -> str:
    """``04_lead_value_targets`` -> ``Lead value targets`` (``SLA`` and ``MQL`` kept in capitals)."""
    words = name.split("_", 1)[1].replace("_", " ").capitalize().split(" ")
    return " ".join(w.upper() if w.lower() in ("sla", "mql", "sql", "kpi", "kpis") else w for w in words)


def profile_summary(profile: ExportProfile) -> dict:
    """``summary.json["export_profile"]``: the days the export covers (the last one included), its
    rows per table, and each fact the figures need: present (with what shows it) or absent with the
    reason every figure needing it gives."""
    return {"first_day": profile.first_day.isoformat() if profile.first_day else None,
            "last_day": profile.last_day.isoformat() if profile.last_day else None,
            "rows": dict(sorted(profile.rows.items())),
            "facts": {name: {"present": f.present, "reason": f.reason, "detail": f.detail or None}
                      for name, f in profile.facts.items()}}


def build_summary(period: Period, cfg: SLAConfig, manifest: dict, fragments: dict, pages: list[str],
                  profile: ExportProfile | None = None) -> dict:
    """The documented ``summary.json``: period, inputs, config used, what the export can tell
    (``export_profile``) and every headline figure."""
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
        "data_quality": {"excluded": sorted(manifest.get("excluded") or [],
                                            key=lambda e: (str(e.get("table")), str(e.get("rule")))),
                         "excluded_rows": sum(int(e.get("rows") or 0) for e in manifest.get("excluded") or [])},
        "inputs": {n: {"file": i["file"], "sha256": i["sha256"], "rows": i["rows"]}
                   for n, i in sorted(manifest["inputs"].items())},
        "currency": cfg.currency,
        "pages": pages,
        **({"export_profile": profile_summary(profile)} if profile is not None else {}),
        **{k: headline[k] for k in sorted(headline)},
    }


def _stable_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """Floats to 12 significant digits: the engine's parallel sums may differ in the last bit from
    run to run, and the same inputs must give the same workbook bytes."""
    for col in frame.columns:
        if pd.api.types.is_float_dtype(frame[col]):
            frame[col] = [float(f"{v:.12g}") if np.isfinite(v) else v for v in frame[col].to_numpy(dtype=float)]
    return frame


def write_workbook(path: Path, tables_dir: Path, period, manifest: dict, notebooks: tuple[str, ...],
                   currency: str = "USD", limits: dict[str, str] | None = None) -> Path:
    """``tables.xlsx``: an About sheet (period, inputs, hashes) and the tables the notebooks recorded,
    in page order."""
    files = sorted(tables_dir.glob("*.parquet")) if tables_dir.is_dir() else []
    order = {n: i for i, n in enumerate(notebooks)}
    files.sort(key=lambda p: (order.get(p.name.split("__")[0], 99), p.name))
    tables = {p.stem.split("__", 2)[2]: _stable_floats(pd.read_parquet(p)) for p in files}
    about = [("Report", f"Sales & marketing SLA report {period.label}"),
             ("Period", f"{period.start.isoformat()} to {period.end.isoformat()} (end excluded)"),
             ("Sample data", "yes: generated sample CRM" if manifest.get("sample") else "no"),
             ("Suite version", __version__)]
    about += [(f"Input: {n}", f"{i['file']} · {i['rows']:,} rows · sha256 {i['sha256']}")
              for n, i in sorted(manifest["inputs"].items())]
    about += [("Sheets", ", ".join(tables) or "none")]
    return write_tables(path, tables, about, currency, limits)


def _sha256(path: str | Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


def publish(staging: Path, target: Path) -> Path:
    """Swap ``staging`` in for ``target`` atomically: readers see the old or the new report, never a
    half-made one, and a run killed at any point leaves one of the two in place.

    Where the file system cannot exchange two folders in one step, the old report is moved aside,
    the new one renamed in, then the old one removed (an interruption between the two renames is
    repaired by the next run: :func:`remove_leftovers`)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp made it private; a report is for its readers
    if target.exists() and _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous report
        return target
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
    out = {}
    for name in ("pandas", "numpy", "duckdb", "ibis-framework", "pandera", "statsmodels", "seaborn",
                 "matplotlib", "papermill", "nbconvert"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out
