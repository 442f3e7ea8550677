"""The orchestrator: validate inputs, run the notebooks, export HTML, publish a period atomically.

``run_report`` is what ``python -m sla_analysis report`` (and so ``make report``) calls:

1. the period and the config are checked before anything else;
2. the inputs are validated and cached (:func:`sla_analysis.ingest.prepare_inputs`);
3. each notebook runs with papermill into a staging folder next to ``reports/``;
4. each executed notebook is exported to HTML without code, prompts or external URLs;
5. the notebooks' recorded figures are merged into ``summary.json``, ``index.html`` is written;
6. the staging folder replaces ``reports/<period>/`` with one atomic exchange, under a per-period lock.

A failure at any step removes the staging folder and leaves the published report as it was. SIGTERM
and SIGHUP (a scheduler stopping the job) go through the same clean-up and exit with 128 + the signal;
what a SIGKILL or a power cut leaves behind (a ``.staging-<period>-*`` folder) is removed by the next
run of that period, under its lock. Two runs of the same period: the second waits for the first.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from . import __version__, paths
from .config import ConfigError, SLAConfig, load_config
from .contract import find_input_file
from .ingest import prepare_inputs
from .periods import Period, parse_period

SUMMARY_SCHEMA_VERSION = "1"
#: a notebook cell running longer than this fails the run (a scheduled run must not hang)
CELL_TIMEOUT_S = int(os.environ.get("SLA_ANALYSIS_CELL_TIMEOUT_S", "1800"))
#: notebooks run at once: one per core, at most four (each is a kernel with its own DuckDB)
DEFAULT_JOBS = max(1, min(os.cpu_count() or 1, 4))


class NotebookFailed(RuntimeError):
    """A report notebook raised; names the notebook and the cell."""


class OutputError(ConfigError):
    """The reports folder (``--out``/``OUT=``) cannot be created or written: a bad parameter, so it
    is reported like a config error (exit 2, one line), before any data is read."""


def _log(msg: str, quiet: bool = False) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def has_export(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a CRM export (at least a leads table)."""
    return data_dir.is_dir() and find_input_file(data_dir, "leads") is not None


def sample_generator_version() -> str:
    """A fingerprint of the sample generator's source: a cached sample made by other code is remade."""
    from . import sample

    return hashlib.sha256(Path(sample.__file__).read_bytes()).hexdigest()[:16]


def ensure_sample(quiet: bool = False) -> Path:
    """Generate the bundled sample CRM (deterministic) unless a copy made by this generator is cached."""
    from .sample import write_sample

    version = sample_generator_version()
    marker = paths.SAMPLE_DIR / "generator.txt"
    current = (paths.SAMPLE_DIR / "truth.json").is_file() and marker.is_file() \
        and marker.read_text(encoding="utf-8").strip() == version
    if not current:
        _log(f"Generating the sample CRM in {paths.SAMPLE_DIR} ...", quiet)
        paths.PROCESSED_DIR.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".sample-", dir=paths.PROCESSED_DIR))
        write_sample(tmp)
        (tmp / "generator.txt").write_text(version + "\n", encoding="utf-8")
        if paths.SAMPLE_DIR.exists():  # made by an older generator: move it aside, then replace it
            old = Path(tempfile.mkdtemp(prefix=".sample-old-", dir=paths.PROCESSED_DIR))
            try:
                os.rename(paths.SAMPLE_DIR, old / "sample_crm")
            except OSError:  # replaced meanwhile by a concurrent run
                pass
            shutil.rmtree(old, ignore_errors=True)
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


@contextmanager
def stop_signals_clean_up() -> Iterator[None]:
    """SIGTERM and SIGHUP raise ``SystemExit(128 + signal)`` so that the run's clean-up (staging
    folder removed, previous report untouched) happens; further signals are ignored while it does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGTERM, signal.SIGHUP)

    def stop(signum, frame):
        for s in signals:
            signal.signal(s, signal.SIG_IGN)
        _stop_kernels()
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, stop) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _stop_kernels() -> None:
    """End the notebook kernels this run started (children in their own sessions, which a signal
    to the run does not reach) before the run itself stops, so none outlives it."""
    try:
        import psutil  # installed with ipykernel
        children = psutil.Process().children(recursive=True)
    except Exception:  # noqa: BLE001 - best effort: a kernel also exits when it sees its parent gone
        return
    for child in children:
        try:
            child.kill()
        except Exception:  # noqa: BLE001
            pass


def _checkpoint(stage: str, staging: Path) -> None:
    """Fault-injection point for the reliability tests: with ``SLA_ANALYSIS_PAUSE_AT=<stage>``
    (``notebook:<name>``, ``export:<name>``, ``publish``) the run writes ``<staging>/.paused`` and
    sleeps ``SLA_ANALYSIS_PAUSE_S`` seconds (default 60) there, so that a test can kill it."""
    if os.environ.get("SLA_ANALYSIS_PAUSE_AT") != stage:
        return
    (staging / ".paused").write_text(stage)
    time.sleep(float(os.environ.get("SLA_ANALYSIS_PAUSE_S", "60")))


class Stopwatch:
    """Wall time of each stage of a run (validate, each notebook, each export, summary), for
    ``provenance.json`` and the benchmark. With ``SLA_ANALYSIS_TIMINGS=<file>`` each finished stage
    is also appended to that file as a JSON line with its ``time.monotonic()`` start and end (the
    same clock in every process on the machine), so a benchmark can line them up with its memory
    samples."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._file = os.environ.get("SLA_ANALYSIS_TIMINGS")

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            end = time.monotonic()
            self.stages[name] = round(self.stages.get(name, 0.0) + end - start, 3)
            if self._file:
                with open(self._file, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"stage": name, "start": start, "end": end}) + "\n")


def check_period_has_data(crm_dir: Path, period: Period, cfg: SLAConfig) -> None:
    """Refuse a period about which the export says nothing: no lead created, no activity logged and
    no deal opened in the period or in the window its analyses look back on (the stale-lead cohorts:
    ``lookback_days`` + ``stale_after_days`` before its end). A period after the export's last
    event is fine while that window still holds data (its cohorts have settled)."""
    from datetime import timedelta

    from .engine import open_crm
    from .periods import PeriodError

    crm = open_crm(crm_dir, engine="duckdb")  # a few counts: no need to start another engine here
    back = cfg.lookback_days + cfg.stale_after_days
    lo, hi = min(period.start_ts(), period.end_ts() - timedelta(days=back)), period.end_ts()
    for table, col in (("leads", "created_at"), ("activities", "occurred_at"), ("deals", "created_at")):
        t = crm.tables.get(table)
        if t is not None and int(t.filter((t[col] >= lo) & (t[col] < hi)).count().execute()):
            return
    first, last = crm.first_event_at(), crm.last_event_at()
    covers = (f"the export covers {first:%Y-%m-%d} to {last:%Y-%m-%d}" if first and last
              else "the export holds no dated rows")
    raise PeriodError(f"PERIOD {period.label} has no data: no lead was created, no activity logged and no deal "
                      f"opened from {lo:%Y-%m-%d} to {period.end} (the period and the {back} days its analyses "
                      f"look back on, end excluded); {covers}.")


def _git_commit() -> str:
    """The suite's commit, ``+modified`` when tracked files differ from it; ``unknown`` outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=paths.PROJECT_ROOT,
                             capture_output=True, text=True, timeout=5)
        commit = out.stdout.strip()
        if not commit:
            return "unknown"
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "sla_analysis", "notebooks"],
                               cwd=paths.PROJECT_ROOT, capture_output=True, timeout=10).returncode == 1
        return commit + ("+modified" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def execute_notebook(name: str, staging: Path, parameters: dict) -> Path:
    """Run ``notebooks/<name>.ipynb`` with papermill into ``staging/notebooks``."""
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    out = staging / "notebooks" / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(str(paths.NOTEBOOKS_DIR / f"{name}.ipynb"), str(out), parameters=parameters,
                            kernel_name="python3", progress_bar=False, cwd=str(paths.NOTEBOOKS_DIR),
                            request_save_on_cell_execute=False, execution_timeout=CELL_TIMEOUT_S)
    except PapermillExecutionError as err:
        raise NotebookFailed(f"notebook {name}.ipynb failed in cell {err.exec_count or err.cell_index}: "
                             f"{err.ename}: {err.evalue}") from None
    except (CellTimeoutError, DeadKernelError) as err:
        what = (f"a cell ran longer than {CELL_TIMEOUT_S} s" if isinstance(err, CellTimeoutError)
                else "its kernel died (out of memory?)")
        raise NotebookFailed(f"notebook {name}.ipynb failed: {what}") from None
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
        "data_quality": {"excluded": sorted(manifest.get("excluded") or [],
                                            key=lambda e: (str(e.get("table")), str(e.get("rule")))),
                         "excluded_rows": sum(int(e.get("rows") or 0) for e in manifest.get("excluded") or [])},
        "inputs": {n: {"file": i["file"], "sha256": i["sha256"], "rows": i["rows"]}
                   for n, i in sorted(manifest["inputs"].items())},
        "currency": cfg.currency,
        "pages": pages,
        **{k: headline[k] for k in sorted(headline)},
    }


def _stable_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """Floats to 12 significant digits: the engine's parallel sums may differ in the last bit from
    run to run, and the same inputs must give the same workbook bytes."""
    import numpy as np

    for col in frame.columns:
        if pd.api.types.is_float_dtype(frame[col]):
            frame[col] = [float(f"{v:.12g}") if np.isfinite(v) else v for v in frame[col].to_numpy(dtype=float)]
    return frame


def write_workbook(path: Path, tables_dir: Path, period, manifest: dict, notebooks: tuple[str, ...]) -> Path:
    """``tables.xlsx``: an About sheet (period, inputs, hashes) and the tables the notebooks recorded,
    in page order."""
    from .workbook import write_tables

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
    return write_tables(path, tables, about)


def run_report(period_text: str, data_dir: Path | None = None, config_path: Path | None = None,
               out_root: Path | None = None, notebooks: tuple[str, ...] | None = None,
               quiet: bool = False, before_publish: Callable[[Path], None] | None = None,
               profile: str | None = None, jobs: int | None = None, engine: str | None = None) -> Path:
    """Build and publish ``<out_root>/<period>/``; returns its path. Raises on any failure,
    leaving the previously published report untouched. ``jobs``: notebooks run at once (default
    :data:`DEFAULT_JOBS`; they are independent, so the order does not change any output).
    ``engine``: where the notebooks' aggregations run (``duckdb``, ``spark`` or an Ibis URL; see
    :mod:`sla_analysis.engine`), handed to the kernels as ``SLA_ANALYSIS_ENGINE``."""
    from .engine import engine_name

    name = engine_name(engine)
    previous = os.environ.get("SLA_ANALYSIS_ENGINE")
    os.environ["SLA_ANALYSIS_ENGINE"] = name
    try:
        with stop_signals_clean_up():
            return _run_report(period_text, data_dir, config_path, out_root, notebooks, quiet, before_publish,
                               profile, jobs or DEFAULT_JOBS)
    finally:
        if previous is None:
            os.environ.pop("SLA_ANALYSIS_ENGINE", None)
        else:
            os.environ["SLA_ANALYSIS_ENGINE"] = previous


def run_notebooks(notebooks: tuple[str, ...], run_one: Callable[[str], None], jobs: int) -> None:
    """Run ``run_one(name)`` for every notebook, ``jobs`` at a time, in daemon threads (a signal to
    the run is not held up by a notebook still running: its kernel is stopped by the clean-up).
    After a failure no further notebook starts; the error of the first failed notebook, in the
    given order, is raised once the running ones have finished."""
    pending = list(notebooks)
    errors: dict[str, BaseException] = {}
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not pending or errors:
                    return
                name = pending.pop(0)
            try:
                run_one(name)
            except BaseException as err:  # noqa: BLE001 - handed to the main thread
                with lock:
                    errors[name] = err

    threads = [threading.Thread(target=worker, daemon=True, name=f"notebooks-{i}")
               for i in range(max(1, min(jobs, len(notebooks))))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)  # short waits: the main thread stays responsive to SIGTERM
    except BaseException:  # SIGTERM/SIGHUP (SystemExit) or Ctrl-C: no notebook starts after this
        with lock:
            pending.clear()
        _stop_kernels()
        raise
    if errors:
        raise next(errors[n] for n in notebooks if n in errors)


def _run_report(period_text, data_dir, config_path, out_root, notebooks, quiet, before_publish,
                profile, jobs) -> Path:
    from .index_page import write_index

    period = parse_period(period_text)
    cfg = load_config(config_path)
    out_root = Path(out_root or paths.REPORTS_DIR)
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out_root).close()
    except OSError as exc:
        raise OutputError(f"reports folder {out_root} cannot be written: {exc.strerror or exc}") from None
    notebooks = notebooks or paths.REPORT_NOTEBOOKS
    t0 = time.monotonic()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    _log(f"[1/{len(notebooks) + 3}] validating inputs", quiet)
    watch = Stopwatch()
    with watch.stage("validate"):
        crm_dir = resolve_inputs(data_dir, quiet, profile)
    manifest = json.loads((crm_dir / "manifest.json").read_text())
    check_period_has_data(crm_dir, period, cfg)
    with period_lock(out_root, period.label, quiet):
        remove_leftovers(out_root, period.label, quiet)
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{period.label}-", dir=out_root))
        try:
            fragments_dir = staging / "fragments"
            fragments_dir.mkdir()
            params = {"period": period.label, "crm_dir": str(crm_dir.resolve()),
                      "config_path": str(Path(cfg.source_file).resolve()) if cfg.source_file else "",
                      "fragments_dir": str(fragments_dir)}
            commit = _git_commit()
            hashes = ", ".join(f"{n} {i['sha256'][:12]}" for n, i in sorted(manifest["inputs"].items()))
            # The footer is the page's provenance (it changes from run to run; the rest of the page
            # does not): reproducibility checks compare the pages without it.
            footer = (f"sla-analysis {__version__} (commit {commit}) · period {period.label} · inputs: {hashes}"
                      + (" · SAMPLE DATA" if manifest.get("sample") else "")
                      + f" · built {started} · provenance.json")
            step = {name: i for i, name in enumerate(notebooks, start=2)}

            def run_one(name: str) -> None:
                _log(f"[{step[name]}/{len(notebooks) + 3}] running {name}", quiet)
                _checkpoint(f"notebook:{name}", staging)
                with watch.stage(f"notebook:{name}"):
                    executed = execute_notebook(name, staging, params)
                _checkpoint(f"export:{name}", staging)
                with watch.stage(f"export:{name}"):
                    export_html(executed, staging / f"{name}.html", footer)

            run_notebooks(notebooks, run_one, jobs)
            _log(f"[{len(notebooks) + 2}/{len(notebooks) + 3}] writing summary.json and index.html", quiet)
            with watch.stage("summary"):
                fragments = {p.stem: json.loads(p.read_text()) for p in sorted(fragments_dir.glob("*.json"))}
                write_workbook(staging / "tables.xlsx", fragments_dir / "tables", period, manifest, notebooks)
                shutil.rmtree(fragments_dir)
                summary = build_summary(period, cfg, manifest, fragments, [f"{n}.html" for n in notebooks])
                (staging / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
            provenance = {
                "run_started_utc": started,
                "duration_s": round(time.monotonic() - t0, 1),
                "git_commit": commit, "suite_version": __version__,
                "python": platform.python_version(), "platform": platform.platform(),
                "packages": _package_versions(),
                "inputs": manifest["inputs"], "data_dir": manifest.get("data_dir"),
                "mapping": manifest.get("mapping"), "config_file": cfg.source_file,
                "config_sha256": _sha256(cfg.source_file) if cfg.source_file else None,
                "stages_s": watch.stages,
                # an engine URL may hold a password: only its scheme is recorded
                "engine": os.environ.get("SLA_ANALYSIS_ENGINE", "duckdb").split("://")[0],
            }
            (staging / "provenance.json").write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
            write_index(staging / "index.html", summary, [(f"{n}.html", page_title(n)) for n in notebooks], footer)
            _checkpoint("publish", staging)
            if before_publish:
                before_publish(staging)
            target = publish(staging, out_root / period.label)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _log(f"[{len(notebooks) + 3}/{len(notebooks) + 3}] published {target} ({time.monotonic() - t0:.0f} s)", quiet)
    return target


def _sha256(path: str | Path) -> str | None:
    import hashlib

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
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("pandas", "numpy", "duckdb", "ibis-framework", "pandera", "statsmodels", "seaborn",
                 "matplotlib", "papermill", "nbconvert"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out
