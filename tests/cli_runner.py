"""``sla-analysis …`` run as a shell runs it (exit code, stdout, stderr, a hang guard), without paying
the interpreter's and the package's start-up on every run.

A ``python -m sla_analysis`` process spends about 7 s importing pandas, Ibis, DuckDB, papermill and
the rest before it reads its arguments; the refusal tests run the CLI some eighty times. Here a
multiprocessing *forkserver* (a clean single-threaded process, started once) imports
``sla_analysis.cli``, and each run is a fork of it: a process of its own (its own memory, working
folder and file descriptors, so nothing leaks from one run into the next), with stdout and stderr
sent to files, killed when it overruns its timeout. What runs is ``main(args)``, exactly what
``python -m sla_analysis`` runs; a test of the console script itself (signals, the Makefile, the
installed wheel) still starts a real process.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

from sla_analysis.cli import main

ROOT = Path(__file__).resolve().parents[1]
_CONTEXT: list = []


def _context():
    """The forkserver context; its server imports the CLI, and what its commands import, before it
    forks the first run."""
    if not _CONTEXT:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["sla_analysis.cli", "sla_analysis.report.run", "sla_analysis.io.inputs",
                                    "sla_analysis.io.warehouse", "sla_analysis.io.adapters.bank_marketing"])
        _CONTEXT.append(ctx)
    return _CONTEXT[0]


def _child(args: list[str], cwd: str, env: dict, out_path: str, err_path: str) -> None:
    """In the forked process: the working folder, environment and output files, then ``main``."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out_path), (2, err_path)):
        sys.stdout.flush()
        sys.stderr.flush()
        handle = os.open(path, os.O_WRONLY | os.O_TRUNC)
        os.dup2(handle, fd)
        os.close(handle)
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 (what the interpreter would do: the traceback, exit 1)
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0)


def run_cli(args: list[str], cwd: Path = ROOT, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m sla_analysis *args`` in ``cwd``: a ``CompletedProcess`` (returncode, stdout, stderr);
    on a hang, returncode ``None`` and stderr ``HANG: no answer in N s``."""
    ctx = _context()
    with tempfile.TemporaryDirectory(prefix="cli-run-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        out.touch()
        err.touch()
        proc = ctx.Process(target=_child, args=(list(args), str(cwd), {**os.environ, **(env or {})}, str(out), str(err)))
        proc.start()
        proc.join(timeout)
        hung = proc.is_alive()
        if hung:
            proc.kill()
            proc.join()
        read = (lambda p: p.read_text(encoding="utf-8", errors="replace"))
        stdout, stderr = read(out), read(err)
    if hung:
        return subprocess.CompletedProcess(args, None, stdout, f"HANG: no answer in {timeout} s")
    return subprocess.CompletedProcess(args, proc.exitcode, stdout, stderr)
