"""Every path the suite uses, built in one place (cookiecutter-data-science style).

Two roots:

* the **package** (read-only): the report notebooks, the default config, the HTML template and the
  CRM profiles ship inside ``sla_analysis`` as package data, so an installed wheel has everything;
* the **project folder** (read-write): ``config/``, ``data/raw``, ``data/processed``, ``reports/``.
  It is the settings' ``project_root`` (``--project``, else ``SLA_PROJECT_ROOT``), else the nearest folder at or above the
  current directory holding ``config/sla.yml`` (a clone, or a folder made by ``sla-analysis init``),
  else the current directory.

Attributes are computed on each access, so the run's project folder or a changed working directory
is seen at once; tests may still ``monkeypatch.setattr`` any of them.
"""
from __future__ import annotations

from pathlib import Path

from sla_analysis import settings

PACKAGE_DIR = Path(__file__).resolve().parent
#: the report notebooks (a clone's ``notebooks/`` is a link to this folder)
PACKAGE_NOTEBOOKS_DIR = PACKAGE_DIR / "notebooks"
#: the SLA assumptions a new project starts from (a clone's ``config/sla.yml`` links here)
PACKAGE_DEFAULT_CONFIG = PACKAGE_DIR / "defaults" / "sla.yml"
TEMPLATES_DIR = PACKAGE_DIR / "report" / "templates"
PROFILES_DIR = PACKAGE_DIR / "io" / "profiles"
PROJECT_MARKER = Path("config") / "sla.yml"

#: The notebooks of a report, in reading order. Each is run with papermill and exported to HTML.
REPORT_NOTEBOOKS: tuple[str, ...] = (
    "01_stale_lead_cohorts",
    "02_cost_per_call",
    "03_profitability_plateau",
    "04_lead_value_targets",
    "05_sla_compliance",
    "06_lead_qualification",
    "07_proposed_sla",
)


def find_project_root(start: Path | None = None) -> Path:
    """The settings' ``project_root`` if set, else the nearest folder at or above ``start`` (default: the
    current directory) that holds ``config/sla.yml``, else ``start`` itself."""
    root = settings.current().project_root
    if root is not None:
        return root.resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_MARKER).is_file():
            return folder
    return here


_DERIVED = {
    "PROJECT_ROOT": lambda root: root,
    "DATA_DIR": lambda root: root / "data",
    "RAW_DIR": lambda root: root / "data" / "raw",
    "PROCESSED_DIR": lambda root: root / "data" / "processed",
    "SAMPLE_DIR": lambda root: root / "data" / "processed" / "sample_crm",
    "REPORTS_DIR": lambda root: root / "reports",
    "CONFIG_DIR": lambda root: root / "config",
    "DEFAULT_CONFIG": lambda root: (root / PROJECT_MARKER) if (root / PROJECT_MARKER).is_file()
    else PACKAGE_DEFAULT_CONFIG,
    "NOTEBOOKS_DIR": lambda root: PACKAGE_NOTEBOOKS_DIR,
}


def __getattr__(name: str) -> Path:
    if name in _DERIVED:
        return _DERIVED[name](find_project_root())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
