"""summary.json follows the JSON Schema shipped in the package, on the sample and on a report of an
empty config (the partial-export corpus checks its twelve reports in ``test_partial_exports``); the
schema refuses what it must (a 0 where a fact is absent is caught elsewhere; here the shapes)."""
from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from sla_analysis.report.publish import SUMMARY_SCHEMA
from tests.schema_check import assert_valid_summary


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(json.loads(SUMMARY_SCHEMA.read_text()))


@pytest.mark.slow
def test_the_samples_summary_follows_the_schema(published_sample):
    for period in ("2024Q1", "2023Q1"):
        assert_valid_summary(json.loads((published_sample / period / "summary.json").read_text()))


@pytest.mark.slow
def test_the_schema_refuses_a_broken_summary(published_sample):
    good = json.loads((published_sample / "2024Q1" / "summary.json").read_text())
    for path, value in ((("compliance", "promises", 0, "status"), "sort of"), (("period", "kind"), "week"),
                        (("export_profile", "facts", "amounts"), {"present": False, "reason": None, "detail": None}),
                        (("limits", "revenue"), 0)):
        bad = copy.deepcopy(good)
        here = bad
        for k in path[:-1]:
            here = here.setdefault(k, {}) if isinstance(here, dict) else here[k]
        here[path[-1]] = value
        with pytest.raises(AssertionError):
            assert_valid_summary(bad)
