"""Every path the suite uses, built in one place (cookiecutter-data-science style).

The project root is the folder that holds ``pyproject.toml``; everything else hangs off it.
Environment variables let a scheduler point the suite elsewhere without editing code.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("SLA_PROJECT_ROOT", Path(__file__).resolve().parents[1]))

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
DATA_DIR = PROJECT_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
REPORTS_DIR = PROJECT_ROOT / "reports"
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_CONFIG = CONFIG_DIR / "sla.yml"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

#: The notebooks of a report, in reading order. Each is run with papermill and exported to HTML.
REPORT_NOTEBOOKS: tuple[str, ...] = (
    "01_stale_lead_cohorts",
    "02_cost_per_call",
    "03_profitability_plateau",
    "04_lead_value_targets",
    "05_sla_compliance",
    "06_lead_qualification",
)

SAMPLE_DIR = PROCESSED_DIR / "sample_crm"
