"""Installable anywhere: the wheel, installed into a fresh virtual environment, sets up a project
folder outside any clone (``sla-analysis init``) and publishes a report from it, with the notebooks,
default config and template it ships; nothing is written into site-packages."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv holding only the wheel; the dependencies come from this environment's site-packages
    through a .pth line (read as a path, so this clone's editable install is not picked up)."""
    work = tmp_path_factory.mktemp("install")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(work / "dist"), str(ROOT)],
                   check=True, timeout=600, capture_output=True)
    (wheel,) = (work / "dist").glob("sla_analysis-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
                   check=True, timeout=600, capture_output=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # nbconvert's templates are data files a real install puts in <venv>/share/jupyter: link only
    # them (this environment's kernel spec would run this clone's Python, so it is not linked)
    (venv / "share" / "jupyter").mkdir(parents=True)
    (venv / "share" / "jupyter" / "nbconvert").symlink_to(Path(sys.prefix) / "share" / "jupyter" / "nbconvert")
    return venv


def run(venv: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLA_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(venv / "bin" / "sla-analysis"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1800)


def test_the_wheel_ships_what_a_report_needs(installed):
    site = next(installed.glob("lib/python*/site-packages"))
    pkg = site / "sla_analysis"
    assert sorted(p.name for p in (pkg / "notebooks").glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "sla_analysis" / "notebooks").glob("*.ipynb"))
    assert (pkg / "defaults" / "sla.yml").is_file()
    assert (pkg / "report" / "templates" / "sla_report" / "index.html.j2").is_file()
    assert (pkg / "io" / "profiles" / "hubspot.yml").is_file()


def test_init_then_report_in_an_empty_folder(installed, tmp_path):
    project = tmp_path / "my-sla"
    project.mkdir()
    res = run(installed, ["init"], project)
    assert res.returncode == 0, res.stderr
    assert (project / "config" / "sla.yml").read_text() == (ROOT / "sla_analysis" / "defaults" / "sla.yml").read_text()
    assert (project / "data" / "raw").is_dir() and (project / "reports").is_dir()
    res = run(installed, ["report", "--period", "2024Q1", "--quiet"], project)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((project / "reports" / "2024Q1" / "summary.json").read_text())
    assert summary["sample_data"] is True and summary["plateau"]["recommended_attempts"] is not None
    assert (project / "data" / "processed" / "sample_crm" / "truth.json").is_file()  # the cache is the project's
    site = next(installed.glob("lib/python*/site-packages"))
    assert not (site / "data").exists() and not (site / "reports").exists()
    assert not (site / "sla_analysis" / "data").exists()
    provenance = json.loads((project / "reports" / "2024Q1" / "provenance.json").read_text())
    assert provenance["git_commit"] == "unknown"  # an installed wheel is no checkout of this repository


def test_project_option_points_elsewhere(installed, tmp_path):
    project = tmp_path / "elsewhere"
    res = run(installed, ["init", str(project)], tmp_path)
    assert res.returncode == 0 and (project / "config" / "sla.yml").is_file()
    res = run(installed, ["--project", str(tmp_path / "missing"), "validate"], tmp_path)
    assert res.returncode == 2 and "is not a folder" in res.stderr
