"""The orchestrator: validate inputs, run the notebooks, export HTML, publish a period atomically.

``run_report`` is what ``python -m sla_analysis report`` (and so ``make report``) calls:

1. the period and the config are checked before anything else;
2. the inputs are validated and cached (:func:`sla_analysis.io.ingest.prepare_inputs`);
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

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator, Sequence

import papermill as pm
import psutil
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.exceptions import PapermillExecutionError

from sla_analysis import __version__, paths, settings
from sla_analysis.config import SLAConfig, load_config
from sla_analysis.console import log as _log
from sla_analysis.errors import NotebookFailed, OutputError, PeriodError
from sla_analysis.figures import FIGURES_FILE, Figures, page_figures
from sla_analysis.figures.graph import summary_sections
from sla_analysis.io.engine import check_engine_ready, engine_name, open_crm
from sla_analysis.io.export_profile import ExportProfile
from sla_analysis.io.inputs import resolve_inputs
from sla_analysis.periods import Period, parse_period
from sla_analysis.report.appearances import write_appearance_map
from sla_analysis.report.contract_page import contract_html
from sla_analysis.report.index_page import write_index
from sla_analysis.report.kernels import WarmKernelManager, server_pids, start_fork_server
from sla_analysis.report.marks import SAMPLE_BANNER
from sla_analysis.report.periods_index import write_periods_index
from sla_analysis.report.publish import (
    _package_versions,
    _sha256,
    build_summary,
    export_html,
    page_links,
    page_title,
    period_lock,
    publish,
    remove_leftovers,
    write_workbook,
)

#: the kernels log only critical messages: ipykernel's notes on its transport and on the interrupt
#: it receives at shutdown are not the report's business, and a scheduler's log scanner flags them
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]
#: after a stop signal, how long the notebook threads may take to wind up before the clean-up
STOP_WAIT_S = 5.0
#: notebooks run at once: one per core, at most four (each is a kernel with its own DuckDB)
DEFAULT_JOBS = max(1, min(os.cpu_count() or 1, 4))


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
        children = psutil.Process().children(recursive=True)
    except Exception:  # noqa: BLE001 - best effort: a kernel also exits when it sees its parent gone
        return
    keep = server_pids()  # the kernels' fork server and multiprocessing's resource tracker
    for child in children:
        if child.pid in keep:
            continue
        try:
            child.kill()
        except Exception:  # noqa: BLE001
            pass


def remove_folder(folder: Path, attempts: int = 10) -> None:
    """Remove ``folder``, again if something wrote into it meanwhile (a notebook thread ending)."""
    for _ in range(attempts):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.2)


def _checkpoint(stage: str, staging: Path) -> None:
    """Fault-injection point for the reliability tests: with the settings' ``pause_at`` at ``stage``
    (``SLA_ANALYSIS_PAUSE_AT=notebook:<name>``, ``export:<name>``, ``publish``) the run writes
    ``<staging>/.paused`` and sleeps ``pause_s`` seconds (default 60) there, so that a test can kill it."""
    run = settings.current()
    if run.pause_at != stage:
        return
    (staging / ".paused").write_text(stage)
    time.sleep(run.pause_s)


class Stopwatch:
    """Wall time of each stage of a run (validate, each notebook, each export, summary), for
    ``provenance.json`` and the benchmark. With the settings' ``timings_file`` (``SLA_ANALYSIS_TIMINGS``) each finished stage
    is also appended to that file as a JSON line with its ``time.monotonic()`` start and end (the
    same clock in every process on the machine), so a benchmark can line them up with its memory
    samples."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._file = settings.current().timings_file

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


def check_period_has_data(crm_dir: Path, period: Period, cfg: SLAConfig) -> ExportProfile:
    """Refuse a period about which the export says nothing: no lead created, no activity logged and
    no deal opened in the period or in the window its analyses look back on (the stale-lead cohorts:
    ``lookback_days`` + ``stale_after_days`` before its end). A period after the export's last
    event is fine while that window still holds data (its cohorts have settled). Returns the
    export's profile (what it can tell, :mod:`sla_analysis.io.export_profile`), worked out here once."""

    crm = open_crm(crm_dir, engine="duckdb")  # a few counts: no need to start another engine here
    back = cfg.lookback_days + cfg.stale_after_days
    lo, hi = min(period.start_ts(), period.end_ts() - timedelta(days=back)), period.end_ts()
    for table, col in (("leads", "created_at"), ("activities", "occurred_at"), ("deals", "created_at")):
        t = crm.tables.get(table)
        if t is not None and int(t.filter((t[col] >= lo) & (t[col] < hi)).count().execute()):
            return crm.profile
    first, last = crm.profile.first_day, crm.profile.last_day
    covers = (f"the export covers {first:%Y-%m-%d} to {last:%Y-%m-%d}" if first and last
              else "the export holds no dated rows")
    raise PeriodError(f"PERIOD {period.label} has no data: no lead was created, no activity logged and no deal "
                      f"opened from {lo:%Y-%m-%d} to {period.end} (the period and the {back} days its analyses "
                      f"look back on, end excluded); {covers}.")


def _git_commit() -> str:
    """The suite's commit, ``+modified`` when its tracked files differ from it; ``unknown`` when the
    package is not a git checkout (an installed wheel). The notebooks' clean filter is replaced by
    ``cat`` for the check: a fresh clone's files are all "racily clean", and running nbstripout on
    each took longer than the check's time limit."""
    git = ["git", "-C", str(paths.PACKAGE_DIR), "-c", "filter.nbstripout.clean=cat",
           "-c", "filter.nbstripout.required=false"]
    try:
        tracked = subprocess.run([*git, "ls-files", "--error-unmatch", "__init__.py"], capture_output=True,
                                 timeout=10).returncode == 0
        out = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip()
        if not tracked or not commit:
            return "unknown"
        dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "."], capture_output=True,
                               timeout=30).returncode == 1
        return commit + ("+modified" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _start_fork_server_quietly() -> None:
    try:
        start_fork_server()
    except Exception:  # noqa: BLE001 - a kernel that cannot be forked is started as a new process
        pass


#: figures computed in a thread of their own while the others are (the longest ones)
AHEAD = ("attempt_cap",)


def compute_figures(crm_dir: Path, cfg: SLAConfig, period: Period, notebooks: Sequence[str]) -> Figures:
    """The figures ``notebooks`` show and what they are computed from, each computed once, here
    (one process, one engine session), for the pages to read (:mod:`sla_analysis.figures`)."""
    names = dict.fromkeys(n for page in notebooks for n in page_figures(page))
    with warnings.catch_warnings(record=True) as caught:  # a warning goes to the run's log, once
        # the attempt cap (the longest figure: its refits in worker processes) is computed beside the others
        figures = Figures(open_crm(crm_dir), cfg, period).compute(
            names, ahead=AHEAD, inputs_for_ahead=lambda: {"crm": open_crm(crm_dir), "cfg": cfg, "period": period})
    for w in caught:
        print(f"warning (figures): {w.category.__name__}: {w.message}", file=sys.stderr, flush=True)
    return figures


#: the files the proposal page's figures are written to, beside the pages
FIGURE_FILES = {"07_proposed_sla": {"sla_proposal.md": "sla_proposal_text", "proposal.yml": "proposal_config"}}


def write_figure_files(figures: Figures, notebooks: Sequence[str], folder: Path) -> None:
    """``sla_proposal.md`` and ``proposal.yml`` from the figures (when the proposal's page runs),
    and ``sla_proposal.html``, the same proposal as a document to print and sign."""
    for page, files in FIGURE_FILES.items():
        if page in notebooks:
            for name, figure_name in files.items():
                (folder / name).write_text(figures[figure_name], encoding="utf-8")
    if "07_proposed_sla" in notebooks:
        footer = (f"Drafted by sla-analysis from the CRM export, with the report for {figures['period'].label} "
                  "(its page 07 shows where each number comes from). The same text: sla_proposal.md.")
        banner = SAMPLE_BANNER if figures["is_sample"] else ""  # a proposal drafted from sample data says so
        (folder / "sla_proposal.html").write_text(contract_html(figures["sla_proposal_text"], footer, banner),
                                                  encoding="utf-8")


def execute_notebook(name: str, staging: Path, parameters: dict) -> Path:
    """Run ``notebooks/<name>.ipynb`` with papermill into ``staging/notebooks``. A cell running
    longer than the settings' ``cell_timeout_s`` fails the run (a scheduled run must not hang)."""
    timeout = settings.current().cell_timeout_s
    out = staging / "notebooks" / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(str(paths.NOTEBOOKS_DIR / f"{name}.ipynb"), str(out), parameters=parameters,
                            kernel_name="python3", progress_bar=False, cwd=str(paths.PROJECT_ROOT),
                            request_save_on_cell_execute=False, execution_timeout=timeout,
                            extra_arguments=KERNEL_ARGUMENTS, kernel_manager_class=WarmKernelManager)
    except PapermillExecutionError as err:
        raise NotebookFailed(f"notebook {name}.ipynb failed in cell {err.exec_count or err.cell_index}: "
                             f"{err.ename}: {err.evalue}") from None
    except (CellTimeoutError, DeadKernelError) as err:
        what = (f"a cell ran longer than {timeout} s" if isinstance(err, CellTimeoutError)
                else "its kernel died (out of memory?)")
        raise NotebookFailed(f"notebook {name}.ipynb failed: {what}") from None
    return out


def run_report(period_text: str, data_dir: Path | None = None, config_path: Path | None = None,
               out_root: Path | None = None, notebooks: tuple[str, ...] | None = None,
               quiet: bool = False, before_publish: Callable[[Path], None] | None = None,
               profile: str | None = None, jobs: int | None = None, engine: str | None = None,
               run_settings: settings.Settings | None = None) -> Path:
    """Build and publish ``<out_root>/<period>/``; returns its path. Raises on any failure,
    leaving the previously published report untouched. ``jobs``: notebooks run at once (default
    :data:`DEFAULT_JOBS`; they are independent, so the order does not change any output).
    ``engine``: where the figures' aggregations run (``duckdb``, ``spark`` or an Ibis URL; see
    :mod:`sla_analysis.io.engine`). ``run_settings``: how the run goes (:mod:`sla_analysis.settings`;
    the CLI builds them once; default: the current ones), installed for the run's duration; the pages'
    kernels need none of them (they read the figures computed here)."""
    base = run_settings or settings.current()
    with settings.using(base.replace(engine=engine_name(engine or base.engine))), stop_signals_clean_up():
        return _run_report(period_text, data_dir, config_path, out_root, notebooks, quiet, before_publish,
                           profile, jobs or DEFAULT_JOBS)


def run_notebooks(notebooks: Sequence[str], run_one: Callable[[str], None], jobs: int,
                  order: Sequence[str] | None = None) -> None:
    """Run ``run_one(name)`` for every notebook, ``jobs`` at a time, in daemon threads (a signal to
    the run is not held up by a notebook still running: its kernel is stopped by the clean-up),
    started in ``order`` (default: as given). After a failure no further notebook starts; the error
    of the first failed notebook, in the order of ``notebooks``, is raised once the running ones
    have finished."""
    pending = list(order or notebooks)
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
        # papermill, seeing its kernel gone, writes the notebook into the staging folder: let it
        # finish (briefly) before the clean-up removes that folder, or a file lands after it
        deadline = time.monotonic() + STOP_WAIT_S
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        raise
    if errors:
        raise next(errors[n] for n in notebooks if n in errors)


def _run_report(period_text, data_dir, config_path, out_root, notebooks, quiet, before_publish,
                profile, jobs) -> Path:
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
    steps = len(notebooks) + 4  # validate, the figures, each page, the summary, publish
    _log(f"[1/{steps}] validating inputs", quiet)
    watch = Stopwatch()
    # the kernels' fork server imports while the inputs are validated (it would otherwise hold up
    # the first notebook by a few seconds)
    threading.Thread(target=_start_fork_server_quietly, daemon=True, name="fork-server").start()
    with watch.stage("validate"):
        crm_dir = resolve_inputs(data_dir, quiet, profile)
    manifest = json.loads((crm_dir / "manifest.json").read_text())
    profile = check_period_has_data(crm_dir, period, cfg)
    check_engine_ready(crm_dir)  # a warehouse engine holds this export's tables (else refused now)
    with period_lock(out_root, period.label, quiet):
        remove_leftovers(out_root, period.label, quiet)
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{period.label}-", dir=out_root))
        try:
            fragments_dir = staging / "fragments"
            fragments_dir.mkdir()
            _log(f"[2/{steps}] computing the figures", quiet)
            with watch.stage("figures"):  # every figure the pages show, computed once, in this process
                figures = compute_figures(crm_dir, cfg, period, notebooks)
                figures.save(fragments_dir / FIGURES_FILE)
                write_figure_files(figures, notebooks, staging)
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
            # numbered in the order they start ([3/11] before [4/11])
            step = {name: i for i, name in enumerate(notebooks, start=3)}

            def run_one(name: str) -> None:
                _log(f"[{step[name]}/{steps}] running {name}", quiet)
                began = time.monotonic()
                _checkpoint(f"notebook:{name}", staging)
                with watch.stage(f"notebook:{name}"):
                    executed = execute_notebook(name, staging, params)
                _checkpoint(f"export:{name}", staging)
                with watch.stage(f"export:{name}"):
                    logged = export_html(executed, staging / f"{name}.html", footer, **page_links(notebooks, name))
                for text in logged:  # a warning goes to the run's log, never onto the page
                    print(f"warning ({name}): " + text.replace("\n", "\n  "), file=sys.stderr, flush=True)
                _log(f"[{step[name]}/{steps}] {name} done in {time.monotonic() - began:.0f} s", quiet)

            run_notebooks(notebooks, run_one, jobs)
            _log(f"[{steps - 1}/{steps}] writing summary.json and index.html", quiet)
            with watch.stage("summary"):
                summary = build_summary(period, cfg, manifest, {"figures": summary_sections(figures, notebooks)},
                                        [f"{n}.html" for n in notebooks], profile)
                write_workbook(staging / "tables.xlsx", fragments_dir / "tables", period, manifest, notebooks,
                               cfg.currency, summary.get("limits") or {})
                shutil.rmtree(fragments_dir)
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
                "engine": settings.current().engine.split("://")[0],
            }
            (staging / "provenance.json").write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
            write_index(staging / "index.html", summary, [(f"{n}.html", page_title(n)) for n in notebooks], footer)
            write_appearance_map(staging, ["index.html"])  # where each figure is shown, for the checks
            _checkpoint("publish", staging)
            if before_publish:
                before_publish(staging)
            target = publish(staging, out_root / period.label)
            write_periods_index(out_root)
        except BaseException:
            remove_folder(staging)
            raise
    _log(f"[{steps}/{steps}] published {target} ({time.monotonic() - t0:.0f} s)", quiet)
    return target

