"""Where a report's data comes from: an export folder (read as canonical tables or through a CRM
profile's mapping), or, when ``data/raw`` is empty, the bundled sample CRM. Either way the export is
validated once and the validated tables' cache folder is returned."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from sla_analysis import paths
from sla_analysis.console import log as _log
from sla_analysis.errors import ContractError, Violation
from sla_analysis.io.contract import find_input_file
from sla_analysis.io.ingest import prepare_inputs
from sla_analysis.io.warehouse import export_tables


def has_export(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a CRM export (at least a leads table)."""
    return data_dir.is_dir() and find_input_file(data_dir, "leads") is not None


def sample_generator_version() -> str:
    """A fingerprint of the sample generator's source: a cached sample made by other code is remade."""
    return hashlib.sha256(Path(importlib.util.find_spec("sla_analysis.io.sample").origin).read_bytes()).hexdigest()[:16]


def ensure_sample(quiet: bool = False) -> Path:
    """Generate the bundled sample CRM (deterministic) unless a copy made by this generator is cached."""
    version = sample_generator_version()
    marker = paths.SAMPLE_DIR / "generator.txt"
    current = (paths.SAMPLE_DIR / "truth.json").is_file() and marker.is_file() \
        and marker.read_text(encoding="utf-8").strip() == version
    if not current:
        _log(f"Generating the sample CRM in {paths.SAMPLE_DIR} ...", quiet)
        paths.PROCESSED_DIR.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".sample-", dir=paths.PROCESSED_DIR))
        from sla_analysis.io.sample import write_sample  # the generator (and SciPy) only when needed

        write_sample(tmp)
        (tmp / "generator.txt").write_text(version + "\n", encoding="utf-8")
        if paths.SAMPLE_DIR.exists():  # made by an older generator: move it aside, then replace it
            old = Path(tempfile.mkdtemp(prefix=".sample-old-", dir=paths.PROCESSED_DIR))
            try:
                os.rename(paths.SAMPLE_DIR, old / "sample_crm")
            except OSError:  # replaced meanwhile by a concurrent run
                pass
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(tmp, paths.SAMPLE_DIR)
        except OSError:  # generated meanwhile by a concurrent run
            shutil.rmtree(tmp, ignore_errors=True)
    return paths.SAMPLE_DIR


def resolve_inputs(data_dir: Path | str | None, quiet: bool = False, profile: str | None = None) -> Path:
    """Validate the export in ``data_dir`` (default ``data/raw``) and return its cache folder.

    ``data_dir`` may be a database URL (``postgres://…/db/schema``): the schema's tables, named as
    in the data contract, are read (:func:`sla_analysis.io.warehouse.export_tables`) and validated.

    ``profile`` reads it through a mapping file (``salesforce``, ``hubspot`` or a path).
    When the default folder holds no export, the bundled sample CRM is used and the console says so.
    """
    paths.PROCESSED_DIR.mkdir(parents=True, exist_ok=True)
    if isinstance(data_dir, str) and "://" in data_dir:
        if profile:
            raise ContractError([Violation("--data", "-", "a database holds the contract's tables (leads, "
                                           "activities, deals, reps): --profile applies to export files only", 0, [])])
        _log("reading the CRM tables from the database ...", quiet)
        return prepare_inputs(export_tables(data_dir))
    if profile:
        data_dir = Path(data_dir or paths.RAW_DIR)
        if not data_dir.is_dir():
            raise ContractError([Violation(str(data_dir), "-", "data folder does not exist", 0, [])])
        return prepare_inputs(data_dir, profile=profile)
    if data_dir is None and not has_export(paths.RAW_DIR):
        _log("data/raw holds no CRM export: using the bundled SAMPLE CRM (generated, not real data).", quiet)
        return prepare_inputs(ensure_sample(quiet))
    data_dir = Path(data_dir or paths.RAW_DIR)
    if not data_dir.is_dir():
        raise ContractError([Violation(str(data_dir), "-", "data folder does not exist", 0, [])])
    return prepare_inputs(data_dir)
