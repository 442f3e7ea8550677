"""nbval smoke run: every report notebook runs as-is (default parameters, the sample CRM) in a
fresh kernel, with no error in any cell. Outputs are not compared (--nbval-lax): figures differ."""
import subprocess
import sys
from pathlib import Path

import pytest

from sla_analysis import paths

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("name", paths.REPORT_NOTEBOOKS)
def test_notebook_runs_as_is(name):
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                          str(ROOT / "notebooks" / f"{name}.ipynb")], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert " passed" in res.stdout and "failed" not in res.stdout.splitlines()[-1]


def test_notebooks_are_committed_without_outputs():
    import nbformat
    for name in paths.REPORT_NOTEBOOKS:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}: exactly one cell tagged 'parameters'"
        assert "import" not in tagged[0].source  # derived values come in later cells
