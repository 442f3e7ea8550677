"""``summary.json`` against the JSON Schema shipped in the package (``report/summary.schema.json``)."""
from __future__ import annotations

import json

import jsonschema

from sla_analysis.report.publish import SUMMARY_SCHEMA


def assert_valid_summary(summary: dict) -> None:
    """Fail with every schema violation, each with its path in the summary."""
    validator = jsonschema.Draft202012Validator(json.loads(SUMMARY_SCHEMA.read_text()))
    errors = sorted(validator.iter_errors(summary), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:20])
