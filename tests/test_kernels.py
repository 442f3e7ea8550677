"""Notebook kernels forked from the warm fork server (sla_analysis.report.kernels) behave as kernels
started as new processes: same working folder, environment, chart backend and outputs; they may
start worker processes; and they really are forks (the heavy modules already imported)."""
from __future__ import annotations

import json
import os

import nbformat
import papermill as pm
import pytest

from sla_analysis.report.kernels import KERNEL_NAME, WarmKernelManager, _kernel_arguments

#: notebook kernels: not the unit tier
pytestmark = pytest.mark.process

PROBE = '''
import json, multiprocessing, os, sys
from concurrent.futures import ProcessPoolExecutor
preloaded = "scipy.stats" in sys.modules and "statsmodels.api" in sys.modules
import matplotlib
import matplotlib.pyplot as plt
with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
    worker = pool.submit(abs, -mark_number).result()
facts = {"cwd": os.getcwd(), "mark": os.environ.get("SLA_TEST_MARK"), "backend": matplotlib.get_backend(),
         "own_session": os.getsid(0) == os.getpid(), "worker": worker, "preloaded": preloaded,
         "name": open("/proc/self/comm").read().strip(), "parent": os.getppid()}
print(json.dumps(facts))
'''


#: a query longer than DuckDB's progress_bar_time (2 s), on the package's connection (the setting itself
#: cannot be lowered here: setting it turns the bar back on)
QUERY = """
from sla_analysis.io.connection import connect
rows = connect().raw_sql("SELECT sum(hash(i)) FROM range(500000000) t(i)").fetchall()
"""


def _probe_notebook(path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("mark_number = 0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(PROBE),
                nbformat.v4.new_code_cell("plt.plot([1, 2], [3, 4]); plt.show()"),
                nbformat.v4.new_code_cell(QUERY)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _run(tmp_path, warm: bool, monkeypatch) -> tuple[dict, list]:
    monkeypatch.setenv("SLA_ANALYSIS_WARM_KERNELS", "1" if warm else "0")
    monkeypatch.setenv("SLA_TEST_MARK", "passed-through")
    # ipykernel sends what C code writes to the process's stdout into the notebook, except under pytest
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    src, out = tmp_path / "probe.ipynb", tmp_path / f"probe-{warm}.ipynb"
    _probe_notebook(src)
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    pm.execute_notebook(str(src), str(out), parameters={"mark_number": 7}, kernel_name="python3",
                        progress_bar=False, cwd=str(workdir), kernel_manager_class=WarmKernelManager,
                        execution_timeout=600)
    cells = nbformat.read(out, as_version=4).cells
    facts = json.loads("".join(o.get("text", "") for o in cells[2].outputs if o.output_type == "stream"))
    images = [o for o in cells[3].outputs if "image/png" in o.get("data", {})]
    assert cells[4].outputs == []  # no progress bar on the page: the forked kernel's DuckDB thinks it has a terminal
    return facts, images


def test_a_forked_kernel_runs_as_a_new_kernel_does(tmp_path, monkeypatch):
    warm, warm_images = _run(tmp_path, True, monkeypatch)
    cold, cold_images = _run(tmp_path, False, monkeypatch)
    for facts in (warm, cold):
        assert facts["cwd"] == str(tmp_path / "work")
        assert facts["mark"] == "passed-through"          # the run's environment reaches the kernel
        assert facts["backend"] == "module://matplotlib_inline.backend_inline"
        assert facts["own_session"]                         # a signal to its group reaches only it
        assert facts["worker"] == 7                         # the parameter, through a forked worker
    assert len(warm_images) == len(cold_images) == 1      # the chart is drawn into the notebook
    # the forked kernel is a fork of the warm server (named, its modules already imported) ...
    assert warm["name"] == KERNEL_NAME and warm["preloaded"]
    assert warm["parent"] != os.getpid()
    # ... a kernel started as a new process imports them itself
    assert cold["name"] != KERNEL_NAME and not cold["preloaded"]
    assert cold["parent"] == os.getpid()


def test_only_ipykernel_commands_are_forked():
    assert _kernel_arguments(["/usr/bin/python", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f",
                              "c.json", "--IPKernelApp.log_level=CRITICAL"]) == \
        ["-f", "c.json", "--IPKernelApp.log_level=CRITICAL"]
    assert _kernel_arguments(["/usr/bin/R", "--slave", "-e", "IRkernel::main()", "c.json"]) is None
