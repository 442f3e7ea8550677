"""The package's shape: layers that only import downwards (import-linter, configured in
pyproject.toml), and every import at the top of its module, so that a module's dependencies are
read in its first lines. The imports deliberately deferred are listed here, with why."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sla_analysis"

#: (module, imported module): pyspark and psycopg are optional engines' drivers; the validator
#: (pandera, ~1.6 s) is loaded by a page only when an analyst points it at an export, never in a
#: report's kernels. The orchestrator's start is kept short (it is a report's serial part): the
#: sample generator (SciPy) is loaded only to write a sample, the bench only by `bench`, the SLA
#: review's verdict function (SciPy, statsmodels) only for a summary without its verdict; and a
#: forked kernel finds ipykernel already imported by its fork server. The CLI imports what a command
#: runs (engine, validator, orchestrator, warehouse loader, adapter: ~4 s of pandas, Ibis, SciPy and
#: statsmodels) in that command, so that --help and a refused parameter answer at once.
DEFERRED = {("cli.py", "sla_analysis.io.engine"), ("cli.py", "sla_analysis.report.run"),
            ("cli.py", "sla_analysis.io.inputs"), ("cli.py", "sla_analysis.io.warehouse"),
            ("cli.py", "sla_analysis.io.adapters"),
            ("io/engine.py", "pyspark.sql"), ("io/warehouse.py", "psycopg"),
            ("report/notebook.py", "sla_analysis.io.inputs"),
            ("cli.py", "sla_analysis.io.sample"), ("cli.py", "sla_analysis.tools.bench"),
            ("io/inputs.py", "sla_analysis.io.sample"), ("report/index_page.py", "sla_analysis.analyses.review"),
            ("report/kernels.py", "ipykernel")}


def imports_inside_functions(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import statement inside a function body."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import):
                    found += [(a.name, inner.lineno) for a in inner.names]
                elif isinstance(inner, ast.ImportFrom):
                    found.append((inner.module or ".", inner.lineno))
    return found


def test_no_import_inside_a_function_but_the_deferred_ones():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        offenders += [f"{rel}:{line} imports {mod}" for mod, line in imports_inside_functions(path)
                      if (rel, mod) not in DEFERRED]
    assert not offenders, "\n".join(offenders)


def test_the_checker_sees_an_import_inside_a_function(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import os\n\ndef f():\n    import json\n    from pathlib import Path\n    return json, Path\n")
    assert imports_inside_functions(src) == [("json", 4), ("pathlib", 5)]


def test_layers_import_only_downwards():
    """cli > tools > report > figures > analyses > io > config, periods, formats, console > paths, errors;
    and a report's pages never load the validator or the orchestrator."""
    lint = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run([str(lint), "--no-cache"], cwd=PACKAGE.parent, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in res.stdout


def test_a_result_is_a_value_or_the_reason_it_is_absent():
    import pytest

    from sla_analysis.results import NotAvailableError, Result

    ok, absent = Result.of(0.0), Result.absent("the deals have no amounts")
    assert ok.available and ok.get() == 0.0 and bool(ok)  # a computed zero is a value, not an absence
    assert not absent.available and not absent and absent.reason == "the deals have no amounts"
    with pytest.raises(NotAvailableError, match="no amounts"):
        absent.get()
    with pytest.raises(ValueError):
        Result.absent("")


def notebook_code_lines(path: Path) -> int:
    """Lines of code in a notebook's cells: not blank, not a comment, not the parameters cell."""
    cells = json.loads(path.read_text())["cells"]
    return sum(1 for c in cells if c["cell_type"] == "code" and "parameters" not in c["metadata"].get("tags", [])
               for line in "".join(c["source"]).splitlines() if line.strip() and not line.strip().startswith("#"))


def test_notebooks_narrate_and_the_package_computes():
    """Issue #28's bound: the seven pages hold at most 300 lines of code in all (761 before issue #13,
    400 after it); a page reads its figures and draws them, the package computes."""
    pages = sorted((PACKAGE / "notebooks").glob("*.ipynb"))
    assert len(pages) == 7
    assert sum(notebook_code_lines(p) for p in pages) <= 300


def test_a_refused_parameter_needs_none_of_the_analysis_libraries():
    """``--help`` and a bad period are answered before pandas, Ibis, DuckDB or SciPy are imported."""
    code = ("import sys\nfrom sla_analysis.cli import main\n"
            "assert main(['report', '--period', '2024Q9']) == 2\n"
            "heavy = sorted(m for m in ('pandas', 'ibis', 'duckdb', 'scipy', 'statsmodels', 'matplotlib') if m in sys.modules)\n"
            "print(heavy)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=PACKAGE.parent)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]" and "is not a period" in res.stderr
