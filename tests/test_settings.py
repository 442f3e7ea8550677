"""The run's settings: read from the environment in one module, built once by the CLI, passed to the
run, never written back into ``os.environ``."""
from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from sla_analysis import paths, settings
from sla_analysis.errors import ConfigError
from sla_analysis.settings import ENV, Settings

PACKAGE = Path(settings.__file__).resolve().parent


def test_from_env_reads_every_variable_and_keeps_defaults_for_the_rest(tmp_path):
    env = {"SLA_PROJECT_ROOT": str(tmp_path), "SLA_ANALYSIS_ENGINE": " spark ", "SLA_ANALYSIS_DUCKDB_MEMORY": "4GB",
           "SLA_ANALYSIS_CAP_WORKERS": "3", "SLA_ANALYSIS_WARM_KERNELS": "off", "SLA_ANALYSIS_CELL_TIMEOUT_S": "90",
           "SLA_ANALYSIS_TIMINGS": str(tmp_path / "t.jsonl"), "SLA_ANALYSIS_PAUSE_S": "2.5",
           "SLA_ANALYSIS_SPARK_MASTER": "", "UNRELATED": "x"}
    got = Settings.from_env(env)
    assert got == Settings(project_root=tmp_path, engine="spark", duckdb_memory="4GB", cap_workers=3,
                           warm_kernels=False, cell_timeout_s=90, timings_file=tmp_path / "t.jsonl", pause_s=2.5)
    assert got.spark_master == "local[2]"  # empty: the default
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env(got.as_env()) == got  # what a child process is given round-trips
    assert Settings.from_env(Settings().as_env()) == Settings()
    assert Settings().as_env()["SLA_ANALYSIS_ENGINE"] == "duckdb"  # defaults too: they override the parent's
    assert "SLA_ANALYSIS_CAP_WORKERS" not in Settings().as_env()   # None: left to the child's default
    assert set(ENV) == {f for f in Settings.__dataclass_fields__}  # every field has its variable


@pytest.mark.parametrize(("variable", "value"), [("SLA_ANALYSIS_CAP_WORKERS", "many"),
                                                 ("SLA_ANALYSIS_CAP_WORKERS", "0"),
                                                 ("SLA_ANALYSIS_CELL_TIMEOUT_S", "-5"),
                                                 ("SLA_ANALYSIS_PAUSE_S", "soon")])
def test_a_bad_value_is_refused_naming_its_variable(variable, value):
    with pytest.raises(ConfigError, match=f"{variable}={value!r}: expected"):
        Settings.from_env({variable: value})


def test_installed_settings_win_over_the_environment_and_are_removed_after(monkeypatch, tmp_path):
    monkeypatch.setenv("SLA_ANALYSIS_CAP_WORKERS", "2")
    monkeypatch.delenv("SLA_PROJECT_ROOT", raising=False)
    assert settings.current().cap_workers == 2
    with settings.using(Settings(cap_workers=1, project_root=tmp_path)) as run:
        assert settings.current() is run and paths.PROJECT_ROOT == tmp_path.resolve()
        assert paths.REPORTS_DIR == tmp_path.resolve() / "reports"
    assert settings.current().cap_workers == 2
    assert Settings(engine="spark").replace(engine=None, cap_workers=4) == Settings(engine="spark", cap_workers=4)


def _code_strings_and_environ_writes(path: Path, root: Path = PACKAGE) -> tuple[list[str], list[str]]:
    """String constants that are not docstrings, and statements writing ``os.environ``, of a module."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    strings = [n.value for n in ast.walk(tree)
               if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]
    writes = []
    for node in ast.walk(tree):
        target = None
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            target = next((t for t in targets if isinstance(t, ast.Subscript)), None)
            target = target.value if target is not None else None
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("update", "setdefault", "pop", "clear", "__setitem__", "popitem")):
            target = node.func.value
        if target is not None and ast.unparse(target) in ("os.environ", "environ"):
            func = next((f.name for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                         and f.lineno <= node.lineno <= f.end_lineno), "<module>")
            writes.append(f"{path.relative_to(root)}:{func}")
    return strings, writes


def test_only_the_settings_module_reads_the_variables_and_nothing_writes_the_environment():
    """No module but ``settings.py`` names a ``SLA_ANALYSIS_*`` variable in its code; ``os.environ`` is
    written only by a forked kernel installing the environment of its launch (as ``exec`` would)."""
    names, writes = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        strings, found = _code_strings_and_environ_writes(path)
        writes += found
        if path.name != "settings.py":
            names += [f"{path.relative_to(PACKAGE)}: {s}" for s in strings
                      if s.startswith("SLA_ANALYSIS_") or s == "SLA_PROJECT_ROOT"]
    assert names == []
    assert sorted(set(writes)) == ["report/kernels.py:_run_kernel"]


def test_the_check_sees_a_write_and_a_read(tmp_path):
    """The check above fails on a module that reads a variable or writes the environment."""
    bad = tmp_path / "probe.py"
    bad.write_text('"""SLA_ANALYSIS_DOC"""\nimport os\n\ndef f():\n    os.environ["SLA_ANALYSIS_X"] = "1"\n'
                   '    os.environ.setdefault("Y", "2")\n    return os.environ.get("B")\n')
    strings, writes = _code_strings_and_environ_writes(bad, tmp_path)
    assert "SLA_ANALYSIS_X" in strings and "SLA_ANALYSIS_DOC" not in strings
    assert writes == ["probe.py:f", "probe.py:f"]


def test_the_cli_passes_project_and_engine_without_touching_the_environment(tmp_path, capsys):
    """``--project`` and ``--engine`` reach the run through its settings; the process environment is
    left as it was (a refused engine is refused before anything runs)."""
    from sla_analysis.cli import main

    before = dict(os.environ)
    assert main(["--project", str(tmp_path), "init"]) == 0
    assert (tmp_path / "config" / "sla.yml").is_file()
    assert main(["--project", str(tmp_path), "report", "--period", "2024Q1", "--engine", "oracle"]) == 2
    assert "engine must be one of" in capsys.readouterr().err
    assert dict(os.environ) == before and settings._active == []
