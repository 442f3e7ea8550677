"""Trustworthy unattended runs: bad parameters, kills, concurrent runs, reproducibility, no leaks,
and the Makefile as a scheduler would call it. See ``docs/reliability.md``.

One small export (the sample generator's 2,000 leads, written as CSV the way a CRM would export it,
with lead names, e-mail addresses and phone numbers in extra columns, e-mail addresses as lead ids,
and sources named like markup and spreadsheet formulas) serves every test that runs notebooks. The
runs are chained in one module fixture to keep the time down:

1. a fake "previous report" is published for ``2024-01``;
2. four runs are killed (SIGTERM and SIGKILL, during a notebook and during the HTML export);
3. ``make reports PERIODS="24Q1 2024-01 2024-13"`` (a backfill with two bad periods) and a direct
   ``report`` of ``2024-01`` run at the same time: the second waits for the first; the first's
   output is copied the moment it exits, the second's is what stays published;
4. the tests compare the two (byte for byte) and search them for leaks.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sla_analysis import paths
from tests.cli_runner import run_cli

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PERIOD = "2024-01"
FIRST_NOTEBOOK = "01_stale_lead_cohorts"
MAKE = ["make", "-s", "--no-print-directory", "-o", ".venv/.installed", "-C", str(ROOT)]

SOURCES = {"webinar": "<script>alert(1)</script>",
           "white paper": '=HYPERLINK("http://evil.example/x","click")',
           "online demo": "+online demo",
           "tradeshow": "-2+3 ![t](http://evil.example/t.png)",
           "contact sales": "@SUM(A1) contact sales"}
SEGMENT = {"smb": '<img src=x onerror="alert(2)">'}
PII_TOKENS = ("Zebediah", "Quackenbush", "@pii.example", "+1-555-01", "@customers.example")


# --------------------------------------------------------------------------------------------- helpers

def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sla_analysis", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def start(args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    fh = open(log, "w")
    return subprocess.Popen(args, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})


def digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def kernels_of(pid: int) -> list[int]:
    """The Jupyter kernels of run ``pid``: started as new processes (they carry ``JPY_PARENT_PID``),
    or forked by the run's fork server (named ``sla-kernel``, below the run)."""
    import psutil

    from sla_analysis.report.kernels import KERNEL_NAME
    try:
        below = {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        below = set()
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            started = proc.environ().get("JPY_PARENT_PID") == str(pid)
            forked = proc.pid in below and proc.name() == KERNEL_NAME
            if (started or forked) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


def wait_for(predicate, timeout: float, what: str, step: float = 0.1):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def without_footer(html: bytes) -> bytes:
    """A page without its provenance footer (run time, commit): the part that must not change."""
    return re.sub(rb"<div class=[\"']sla-footer[\"']>.*?</div>", b"", html, flags=re.S)


def staging_dirs(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith((".staging-", ".old-")))


# --------------------------------------------------------------------------------------------- the export

@pytest.fixture(scope="module")
def evil_export(tmp_path_factory) -> Path:
    """The sample's 2,000 leads as a CRM's CSV export with PII and hostile strings in it."""
    from dataclasses import replace

    import pandas as pd

    from sla_analysis.io.sample import SampleParams, write_sample

    src = write_sample(tmp_path_factory.mktemp("sample2k"), replace(SampleParams(), n_leads=2000))
    out = tmp_path_factory.mktemp("evil") / "export"
    out.mkdir()
    email_id = {}
    for name in ("leads", "activities", "deals", "reps"):
        df = pd.read_parquet(src / f"{name}.parquet")
        if "lead_id" in df.columns:
            email_id = email_id or {lid: f"{lid.lower()}@customers.example" for lid in df.lead_id}
            df["lead_id"] = df.lead_id.map(email_id)
        if name == "leads":
            df["source"] = df.source.map(lambda s: SOURCES.get(s, s))
            df["segment"] = df.segment.map(lambda s: SEGMENT.get(s, s))
            n = len(df)
            df.insert(1, "first_name", [f"Zebediah{i}" for i in range(n)])
            df.insert(2, "last_name", [f"Quackenbush{i}" for i in range(n)])
            df.insert(3, "email", [f"zq{i}@pii.example" for i in range(n)])
            df.insert(4, "phone", [f"+1-555-01{i:04d}" for i in range(n)])
        for col in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[col]):
                df[col] = df[col].dt.strftime("%Y-%m-%d %H:%M:%S")
        df.to_csv(out / f"{name}.csv", index=False)
    assert not (out / "truth.json").exists()  # a real export, not flagged as sample data
    return out


# --------------------------------------------------------------------------------------------- kills

def _kill_run(data: Path, out: Path, sig: int, when: str, log: Path) -> dict:
    """Start a report of PERIOD, kill it with ``sig`` during ``when`` ('notebook' or 'export')."""
    before = digest(out / PERIOD)
    env = {"SLA_ANALYSIS_PAUSE_AT": f"export:{FIRST_NOTEBOOK}", "SLA_ANALYSIS_PAUSE_S": "120"} if when == "export" else {}
    proc = start([sys.executable, "-m", "sla_analysis", "report", "--period", PERIOD, "--data", str(data),
                  "--out", str(out)], log, env)
    try:
        def staging():
            return next((p for p in out.glob(f".staging-{PERIOD}-*") if p.is_dir()), None)
        if when == "notebook":  # notebooks are running in their kernels
            wait_for(lambda: kernels_of(proc.pid), 120, "a notebook's kernel", step=0.1)
            time.sleep(0.5)  # into its cells (a page of this export takes a few seconds)
            st = staging()
            assert proc.poll() is None and kernels_of(proc.pid), "too late to kill"
            # not every page has been run yet (the first pages may be done on a fast machine)
            assert st is not None and len(list(st.glob("*.html"))) < len(paths.REPORT_NOTEBOOKS), "too late to kill"
        else:  # the first notebook ran; its HTML export is about to be written
            st = wait_for(lambda: (s := staging()) and (s / ".paused").exists() and s, 120, "the export pause")
        kernels = kernels_of(proc.pid)
        proc.send_signal(sig)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    gone = True
    try:
        wait_for(lambda: not any(_alive(k) for k in kernels), 20, "the kernel to exit")
    except AssertionError:
        gone = False
    return {"rc": rc, "log": log.read_text(errors="replace"), "previous_intact": digest(out / PERIOD) == before,
            "litter": staging_dirs(out), "kernels_gone": gone, "had_kernel": bool(kernels)}


def _alive(pid: int) -> bool:
    import psutil
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


KILLS = [("SIGTERM", "notebook"), ("SIGKILL", "notebook"), ("SIGTERM", "export"), ("SIGKILL", "export")]


@pytest.fixture(scope="module")
def runs(evil_export, tmp_path_factory) -> dict:
    """The chained runs described in the module docstring; returns what each observed."""
    base = tmp_path_factory.mktemp("runs")
    out = base / "reports"
    previous = out / PERIOD
    previous.mkdir(parents=True)
    (previous / "index.html").write_text("<p>the previous report</p>")
    (previous / "summary.json").write_text('{"previous": true}\n')
    result: dict = {"out": out, "kills": {}}
    for sig_name, when in KILLS:
        result["kills"][(sig_name, when)] = _kill_run(evil_export, out, getattr(signal, sig_name), when,
                                                      base / f"kill-{sig_name}-{when}.log")
    result["litter_before_next_run"] = staging_dirs(out)

    # A backfill through make (2 bad periods around a good one) and a direct run, at the same time.
    make_log, direct_log = base / "make.log", base / "direct.log"
    # the backfill holds the period's lock a while before it publishes (its pause point), so that the
    # direct run, started once the backfill's notebooks run, reaches the lock while it is held on any
    # machine, however fast
    a = start([*MAKE, "reports", "PERIODS=24Q1 2024-01 2024-13", f"DATA={evil_export}", f"OUT={out}"], make_log,
              env={"SLA_ANALYSIS_PAUSE_AT": "publish", "SLA_ANALYSIS_PAUSE_S": "20"})
    wait_for(lambda: f"running {FIRST_NOTEBOOK}" in make_log.read_text() or a.poll() is not None, 180,
             "the backfill to start its 2024-01 notebooks (it holds the period's lock then)")
    b = start([sys.executable, "-m", "sla_analysis", "report", "--period", PERIOD, "--data", str(evil_export),
               "--out", str(out)], direct_log)
    rc_a = a.wait(timeout=600)
    first = base / "first"
    shutil.copytree(out / PERIOD, first)  # the backfill's report, before the waiting run replaces it
    result["b_running_when_a_ended"] = b.poll() is None
    rc_b = b.wait(timeout=600)
    result.update(rc_make=rc_a, make_log=make_log.read_text(errors="replace"), rc_direct=rc_b,
                  direct_log=direct_log.read_text(errors="replace"), first=first, report=out / PERIOD,
                  litter_after=staging_dirs(out))
    return result


@pytest.mark.parametrize("sig_name,when", KILLS)
def test_killed_run_leaves_previous_report_intact(runs, sig_name, when):
    k = runs["kills"][(sig_name, when)]
    assert k["had_kernel"] or when == "export"
    signum = getattr(signal, sig_name)
    if sig_name == "SIGTERM":  # clean-up ran: exit 128 + 15, no staging folder, no traceback
        assert k["rc"] == 128 + signum, k["log"][-2000:]
        assert k["litter"] == [], k["litter"]
        assert "Traceback" not in k["log"], k["log"][-3000:]
    else:
        assert k["rc"] == -signum
    assert k["previous_intact"], "the previous report changed"
    assert k["kernels_gone"], "a notebook kernel outlived its killed run"


def test_next_run_cleans_up_and_succeeds(runs):
    assert runs["litter_before_next_run"], "SIGKILL leaves a staging folder (the next run removes it)"
    assert runs["rc_direct"] == 0, runs["direct_log"][-3000:]
    assert "left behind" in runs["make_log"] + runs["direct_log"]
    assert runs["litter_after"] == []
    assert json.loads((runs["report"] / "summary.json").read_text())["period"]["label"] == PERIOD


def test_two_runs_of_a_period_at_once_one_waits(runs):
    assert runs["b_running_when_a_ended"], "the direct run should still be running (it waited for the lock)"
    assert "waiting for it to finish" in runs["direct_log"]
    report = runs["report"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(report.stat().st_mode) == 0o777 & ~umask, "the report folder must be readable by its readers"
    expected = {"index.html", "summary.json", "tables.xlsx", "provenance.json"}
    assert expected <= {p.name for p in report.iterdir()}
    s = json.loads((report / "summary.json").read_text())
    assert all((report / page).is_file() for page in s["pages"])
    # one run's whole output: every page carries the same footer (same run time) as the index (the
    # proposal to print, sla_proposal.html, is the agreement's text: it names its report instead)
    footers = {re.search(r"<div class=[\"']sla-footer[\"']>(.*?)</div>", p.read_text(), re.S).group(1)
               for p in report.glob("*.html") if p.name != "sla_proposal.html"}
    assert len(footers) == 1, footers
    prov = json.loads((report / "provenance.json").read_text())
    assert prov["run_started_utc"] in footers.pop()


def test_backfill_reports_each_failure_and_publishes_the_rest(runs):
    log = runs["make_log"]
    assert runs["rc_make"] != 0
    assert "== 24Q1 FAILED (exit 2)" in log and "== 2024-13 FAILED (exit 2)" in log, log[-3000:]
    assert "failed: 24Q1(exit 2) 2024-13(exit 2)" in log
    assert "published" in log and (runs["first"] / "index.html").is_file()
    assert not (runs["out"] / "24Q1").exists() and not (runs["out"] / "2024-13").exists()


def test_reruns_are_byte_identical(runs):
    """Same inputs, same environment: same HTML (the provenance footer aside), summary.json and
    tables.xlsx; provenance.json holds what differs."""
    a, b = runs["first"], runs["report"]
    pages = sorted(p.name for p in a.glob("*.html"))
    assert pages == sorted(p.name for p in b.glob("*.html")) and len(pages) >= 6
    for page in pages:
        x, y = (a / page).read_bytes(), (b / page).read_bytes()
        assert without_footer(x) == without_footer(y), page
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    assert (a / "tables.xlsx").read_bytes() == (b / "tables.xlsx").read_bytes()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    for page in pages:
        body = without_footer((b / page).read_bytes()).decode()
        assert today not in body, f"{page}: a timestamp of the run in the page"
        assert not re.search(r'id="T_[0-9a-f]{5}', body), f"{page}: random table ids"
    assert today not in (b / "summary.json").read_text()
    prov = json.loads((b / "provenance.json").read_text())
    assert {"run_started_utc", "git_commit", "packages", "inputs", "python"} <= set(prov)
    assert prov["inputs"]["leads"]["sha256"] in (b / "summary.json").read_text()


def _published_text(report: Path) -> dict[str, str]:
    """Every published file as text (the workbook's XML parts included)."""
    texts = {}
    for p in sorted(report.rglob("*")):
        if p.suffix in (".html", ".json", ".ipynb"):
            texts[str(p.relative_to(report))] = p.read_text(errors="replace")
        elif p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as zf:
                texts[p.name] = "\n".join(zf.read(n).decode(errors="replace") for n in zf.namelist())
    return texts


def test_no_personal_data_in_the_report(runs):
    texts = _published_text(runs["report"])
    assert any(n.endswith(".html") for n in texts) and "tables.xlsx" in texts
    for name, text in texts.items():
        for token in PII_TOKENS:
            assert token not in text, f"{name} shows {token!r}: reports carry aggregates only"


class _Markup(HTMLParser):
    """Every element a browser would build from a page: tag, attributes, and the text of <style>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        if self.lasttag == "style":
            self.styles.append(data)


def markup(html: str) -> _Markup:
    parser = _Markup()
    parser.feed(html)
    return parser


EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)


def test_crm_strings_are_escaped_in_html(runs):
    """Markup in lead sources and segments is shown as text: no element, attribute or link comes
    from it (checked on the elements a browser builds, so an alt text quoting it is fine)."""
    report = runs["report"]
    index = (report / "index.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index  # the source is shown, as text
    for page in report.glob("*.html"):
        html = page.read_text()
        assert "<script>alert(1)" not in html, page.name
        found = markup(html)
        handlers = [(tag, name) for tag, attrs in found.tags for name in attrs if name.lower().startswith("on")]
        assert not handlers, (page.name, handlers[:3])
        links = [attrs.get("href") for tag, attrs in found.tags if tag == "a" and "evil" in attrs.get("href", "")]
        assert not links, f"{page.name}: a CRM string became a link: {links[:3]}"
        assert not [a for tag, a in found.tags if tag == "img" and a.get("src") == "x"], page.name


def test_html_loads_nothing_from_the_network(runs):
    for page in runs["report"].glob("*.html"):
        found = markup(page.read_text())
        loads = [(tag, name, value) for tag, attrs in found.tags for name, value in attrs.items()
                 if name.lower() in ("src", "href", "action", "data", "srcset", "poster", "formaction")
                 and (EXTERNAL.match(value) or (tag in ("script", "iframe", "object", "embed", "link", "img")
                                                and name.lower() in ("src", "href", "data")
                                                and not value.startswith(("#", "data:"))))]
        assert not loads, (page.name, loads[:3])
        assert not [tag for tag, _ in found.tags if tag in ("script", "iframe", "object", "embed", "base")], page.name
        styles = "\n".join(found.styles + [a.get("style", "") for _, a in found.tags])
        assert not re.search(r"url\(\s*[\"']?\s*(?:[a-z]+:)?//|@import", styles, flags=re.I), page.name


def test_workbook_neutralises_formulas(runs):
    """A source named like a formula stays text: never a formula cell, stored as typed with the
    cell's quote prefix (so Excel does not evaluate it when someone edits the cell)."""
    from openpyxl import load_workbook
    wb = load_workbook(runs["report"] / "tables.xlsx")
    texts = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    texts.setdefault(cell.value, []).append(cell)
                    if cell.value.startswith(("=", "+", "-", "@", "\t", "\r")):
                        assert cell.quotePrefix, f"{ws.title}!{cell.coordinate}: {cell.value!r} without the quote prefix"
    for evil in SOURCES.values():
        if evil[0] in "=+-@":
            assert evil in texts, f"{evil!r} not in the workbook as text"


# --------------------------------------------------------------------------------------------- parameters

BAD_PERIODS = ["24Q1", "2024Q5", "2024-13", "2024-1", "../2024Q1", "2024Q1; touch pwned", "", "2024 Q1", "1800"]
BAD_CONFIGS = {
    "marketing_share: 1.3": ("marketing_share", "out of range (0, 1]"),
    "rep_hourly_cost: -50": ("rep_hourly_cost", "out of range (0,"),
    "calls_per_hour: 0": ("calls_per_hour", "out of range (0,"),
    "quota: .nan": ("quota", "finite number"),
    "confidence_level: 1.5": ("confidence_level", "out of range [0.5, 0.999]"),
    "stale_after_days: 10.5": ("stale_after_days", "whole number"),
    "marketing_shre: 0.5": ("marketing_shre", "did you mean 'marketing_share'"),
    "tiers: {high: {touches: 0}}": ("touches", "out of range [1,"),
    "calls_per_hour: ten": ("calls_per_hour", "must be a number"),
    "- just a list": ("config", "YAML mapping"),
    "x: [unclosed": ("config file", "not valid YAML"),
}


@pytest.fixture(scope="module")
def parameter_outcomes(tmp_path_factory, evil_export) -> dict:
    base = tmp_path_factory.mktemp("params")
    jobs = {}
    for p in BAD_PERIODS:
        jobs[("period", p)] = ["report", "--period", p, "--data", str(evil_export), "--out", str(base / "out")]
    for i, (text, _) in enumerate(BAD_CONFIGS.items()):
        cfg = base / f"c{i}.yml"
        cfg.write_text(text + "\n")
        jobs[("config", text)] = ["report", "--period", PERIOD, "--config", str(cfg), "--data", str(evil_export),
                                  "--out", str(base / "out")]
    jobs[("config", "missing file")] = ["report", "--period", PERIOD, "--config", str(base / "nope.yml"),
                                        "--out", str(base / "out")]
    jobs[("out", "not a folder")] = ["report", "--period", PERIOD, "--data", str(evil_export), "--out", "/dev/null/reports"]
    jobs[("data", "missing folder")] = ["report", "--period", PERIOD, "--data", str(base / "nope"), "--out", str(base / "out")]
    jobs[("period", "no data")] = ["report", "--period", "2019", "--data", str(evil_export), "--out", str(base / "out")]
    jobs[("period", "future, no data")] = ["report", "--period", "2031Q2", "--data", str(evil_export), "--out", str(base / "out")]
    with ThreadPoolExecutor(max_workers=2) as pool:  # forked from a server that imported the CLI once
        results = dict(zip(jobs, pool.map(lambda a: run_cli([*a, "--quiet"], cwd=ROOT, timeout=300), jobs.values())))
    results["out"] = base / "out"
    return results


def _refused(res, *fragments):
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr and res.stderr.startswith("error: "), res.stderr[-2000:]
    assert len(res.stderr.splitlines()) <= 6, res.stderr
    for f in fragments:
        assert f in res.stderr, (f, res.stderr)


@pytest.mark.parametrize("period", BAD_PERIODS)
def test_bad_period_is_refused(parameter_outcomes, period):
    _refused(parameter_outcomes[("period", period)], "Accepted forms")


@pytest.mark.parametrize("text", list(BAD_CONFIGS))
def test_config_out_of_range_is_refused(parameter_outcomes, text):
    key, rule = BAD_CONFIGS[text]
    _refused(parameter_outcomes[("config", text)], key, rule)


def test_missing_config_and_data_are_refused(parameter_outcomes):
    _refused(parameter_outcomes[("config", "missing file")], "does not exist")
    _refused(parameter_outcomes[("out", "not a folder")], "reports folder /dev/null/reports cannot be written")
    _refused(parameter_outcomes[("data", "missing folder")], "data folder does not exist")


@pytest.mark.parametrize("case", ["no data", "future, no data"])
def test_period_without_data_is_refused(parameter_outcomes, case):
    _refused(parameter_outcomes[("period", case)], "has no data", "the export covers")


def test_no_report_for_any_bad_parameter(parameter_outcomes):
    out = parameter_outcomes["out"]
    assert not out.exists() or [p.name for p in out.iterdir() if not p.name.endswith(".lock")] == []


# --------------------------------------------------------------------------------------------- Makefile

INJECTIONS = {
    "PERIOD": ["2024Q1; touch pwned", "2024Q1' ; touch pwned ; '", "$(shell touch pwned)", "`touch pwned`",
               "$$(touch pwned)", "../../pwned"],
    "DATA": ["$(shell touch pwned)", "`touch pwned`", "x; touch pwned", "x' ; touch pwned ; '", "../../../../pwned"],
    "CONFIG": ["$(shell touch pwned)", "x; touch pwned #", "`touch pwned`"],
    "PROFILE": ["$(shell touch pwned)", "x; touch pwned", "`touch pwned`", "../../pwned"],
}


def _make_cases():
    for var, values in INJECTIONS.items():
        for i, v in enumerate(values):
            yield pytest.param(var, v, id=f"{var}-{i}")


@pytest.mark.parametrize("var,value", list(_make_cases()))
def test_makefile_passes_parameters_as_single_arguments(var, value, tmp_path):
    """``make -n`` prints the command: the value reaches the CLI as one quoted argument, unexpanded."""
    args = {"PERIOD": "2024Q1", "OUT": str(tmp_path / "out"), var: value}
    res = subprocess.run([*MAKE, "-n", "report", *[f"{k}={v}" for k, v in args.items()]], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    flag = {"PERIOD": "--period", "DATA": "--data", "CONFIG": "--config", "PROFILE": "--profile"}[var]
    quoted = "'" + value.replace("'", "'\\''") + "'"
    assert f"{flag} {quoted}" in res.stdout, res.stdout
    assert not list(tmp_path.glob("pwned*")) and not (ROOT / "pwned").exists()


@pytest.mark.parametrize("var", ["PERIOD", "DATA", "PERIODS"])
def test_makefile_refuses_a_newline_in_a_parameter(var, tmp_path):
    """make would run the text after a newline as a second command: the Makefile stops first."""
    res = subprocess.run([*MAKE, "reports" if var == "PERIODS" else "report", "PERIOD=2024Q1",
                          f"{var}=2024Q1\ntouch pwned", f"OUT={tmp_path}"], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert res.returncode != 0 and f"{var} must be on one line" in res.stderr, res.stderr
    assert not list(tmp_path.rglob("pwned")) and not (ROOT / "pwned").exists()


def test_makefile_injection_runs_nothing(tmp_path):
    """Real runs (each refused in a second or two): nothing but the CLI runs, nothing is written."""
    cases = [{"PERIOD": v} for v in INJECTIONS["PERIOD"]]
    cases += [{"PERIOD": "2024Q1", k: v} for k in ("DATA", "CONFIG", "PROFILE") for v in INJECTIONS[k][:3]]
    cases += [{"PERIODS": "24Q1 `touch pwned` $(touch pwned) ;touch pwned * ../pwned"}]

    def run(args):
        target = "reports" if "PERIODS" in args else "report"
        return args, subprocess.run([*MAKE, target, f"OUT={tmp_path / 'out'}", *[f"{k}={v}" for k, v in args.items()]],
                                    capture_output=True, text=True, timeout=120, cwd=tmp_path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, cases))
    for args, res in results:
        assert res.returncode != 0, (args, res.stdout[-1000:])
        assert "error:" in res.stderr + res.stdout, (args, res.stderr[-1000:])
        assert "Traceback" not in res.stderr, (args, res.stderr[-2000:])
    backfill = results[-1][1]
    assert "failed:" in backfill.stderr and backfill.stderr.count("FAILED (exit 2)") == 9, backfill.stderr
    assert not list(tmp_path.rglob("pwned*")) and not (ROOT / "pwned").exists()
    assert not (tmp_path.parent / "pwned").exists() and not (ROOT.parent / "pwned").exists()
    out = tmp_path / "out"
    assert not out.exists() or [p.name for p in out.iterdir() if not p.name.endswith(".lock")] == []


def test_makefile_parameters_are_never_exported():
    text = (ROOT / "Makefile").read_text()
    params = {"PERIOD", "PERIODS", "DATA", "CONFIG", "PROFILE", "OUT", "SCENARIOS", "LEADS", "BOOT"}
    assert params <= set(re.findall(r"^([A-Z]+) \?=", text, flags=re.M))
    unexported = set(re.search(r"^unexport (.+)$", text, flags=re.M).group(1).split())
    assert params <= unexported
    for line in text.splitlines():  # every use of a parameter goes through $(value ...) / quote
        if line.startswith("\t"):
            assert not re.search(r"\$\((PERIOD|PERIODS|DATA|CONFIG|PROFILE|OUT)\)", line), line


# --------------------------------------------------------------------------------------------- no eval

def test_notebooks_and_package_never_evaluate_data():
    """No eval/exec/compile, no pandas .query/.eval (expression strings), no SQL built from values
    (SQL text must be a constant, but for two reviewed uses)."""
    banned_names = {"eval", "exec", "compile", "__import__"}
    banned_attrs = {"query", "eval", "raw_sql", "sql"}
    # a quoted path; an engine-made table name
    allowed = {("readers.py", "raw_sql"), ("bank_marketing.py", "sql")}
    sources = [(p.name, p.read_text()) for p in (ROOT / "sla_analysis").rglob("*.py")]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        sources.append((nb.name, "\n".join(ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!")))))
    for name, text in sources:
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Name):
                    assert f.id not in banned_names, f"{name}:{node.lineno}: {f.id}()"
                elif isinstance(f, ast.Attribute) and f.attr in banned_attrs:
                    constant = f.attr in ("raw_sql", "sql") and node.args and isinstance(node.args[0], ast.Constant)
                    assert constant or (name, f.attr) in allowed, f"{name}:{node.lineno}: .{f.attr}()"


# --------------------------------------------------------------------------------------------- units

def test_publish_swaps_whole_folders_and_leftovers_are_repaired(tmp_path):
    from sla_analysis.report.run import publish, remove_leftovers

    out = tmp_path / "reports"
    (out / PERIOD).mkdir(parents=True)
    (out / PERIOD / "index.html").write_text("old")
    new = out / ".staging-2024-01-abcd1234"
    new.mkdir()
    (new / "index.html").write_text("new")
    publish(new, out / PERIOD)
    assert (out / PERIOD / "index.html").read_text() == "new" and staging_dirs(out) == []
    # what interrupted runs leave: a staging folder of this period, one of another period, and a
    # report moved aside by the two-rename fallback when the period has none
    for name in (".staging-2024-01-zzzz9999", ".staging-2024-qqqq1111", ".old-2024-01-4242"):
        (out / name).mkdir()
    shutil.rmtree(out / PERIOD)
    (out / ".old-2024-01-4242" / "index.html").write_text("aside")
    done = remove_leftovers(out, PERIOD, quiet=True)
    assert sorted(done) == [".old-2024-01-4242", ".staging-2024-01-zzzz9999"]
    assert (out / PERIOD / "index.html").read_text() == "aside"
    assert staging_dirs(out) == [".staging-2024-qqqq1111"]  # another period's: not touched


def test_data_quality_section_lists_counted_exclusions(tmp_path):
    from sla_analysis.config import load_config
    from sla_analysis.periods import parse_period
    from sla_analysis.report.index_page import write_index
    from sla_analysis.report.run import build_summary

    manifest = {"inputs": {"deals": {"file": "Opportunity.csv", "sha256": "0" * 64, "rows": 90}},
                "excluded": [{"table": "deals", "file": "Opportunity.csv", "rule": "refers to a lead_id that is not in leads",
                              "reason": "excluded by the mapping file", "rows": 7},
                             {"table": "leads", "rule": "deleted in the CRM", "reason": "<b>IsDeleted</b>", "rows": 3}]}
    summary = build_summary(parse_period(PERIOD), load_config(), manifest, {}, [])
    assert summary["data_quality"]["excluded_rows"] == 10
    write_index(tmp_path / "index.html", summary, [], "footer")
    html = (tmp_path / "index.html").read_text()
    assert "<h2>Data quality</h2>" in html and "Left out of the figures: 7 of the deals rows; 3 of the leads rows." in html
    assert ("refers to a lead_id that is not in leads</td><td>excluded by the mapping file</td><td class='num'>"
            "<span data-figure='/data_quality/excluded/0/rows'>7</span><") in html
    assert "&lt;b&gt;IsDeleted&lt;/b&gt;" in html
    summary["data_quality"] = {"excluded": [], "excluded_rows": 0}
    write_index(tmp_path / "index.html", summary, [], "footer")
    assert "No row was left out" in (tmp_path / "index.html").read_text()


def test_published_report_has_a_data_quality_section(runs):
    index = (runs["report"] / "index.html").read_text()
    assert "<h2>Data quality</h2>" in index and "No row was left out" in index
    assert "<td>leads</td><td>leads.csv</td><td class='num'><span data-figure='/inputs/leads/rows'>2,000</span></td>" in index
