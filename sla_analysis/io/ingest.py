"""Validate a CRM export and cache it as canonical Parquet, keyed by the inputs' hashes.

``prepare_inputs`` is the single entry point the orchestrator calls before any notebook runs:
it validates every table (all violations reported together), then writes
``data/processed/crm-<hash>/{leads,activities,deals,reps}.parquet`` and ``manifest.json``.
A second run on the same inputs reuses the cache instead of re-reading the raw files.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sla_analysis import paths
from sla_analysis.errors import ContractError, Violation
from sla_analysis.io import contract, facts, mapping, readers, validate
from sla_analysis.io.connection import MANIFEST, connect
from sla_analysis.io.contract import CONTRACT, find_input_file
from sla_analysis.io.mapping import empty_source, load_mapping, mapped_table
from sla_analysis.io.validate import validate_raw, validate_table

CONTRACT_VERSION = "2"
SAMPLE_MARKER = "truth.json"


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _input_files(data_dir: Path, unavailable: dict[str, str] | None = None) -> dict[str, Path]:
    found = {name: find_input_file(data_dir, name) for name in CONTRACT}
    missing = [n for n, spec in CONTRACT.items() if spec.table_required and found[n] is None
               and n not in (unavailable or {})]
    if missing:
        raise ContractError([Violation(str(data_dir / f"{n}.csv"), "-",
                                       "required table is missing (expected leads, activities and "
                                       "deals as .csv or .parquet)", 0, []) for n in missing])
    return {n: p for n, p in found.items() if p is not None}


HASH_MEMO = "input-hashes.json"


def inputs_hash(files: dict[str, Path], memo_dir: Path | None = None) -> dict[str, str]:
    """SHA-256 of each input file. With ``memo_dir``, a file whose path, size, modification and
    status-change times (ns) and inode match an earlier run's is not read again: a second period
    on the same export starts from its validated cache at once. Any write to a file, and any
    ``touch``, ``cp -p`` or restore that sets its times back, changes its status-change time
    (which no program can set), so its hash is computed afresh."""
    memo_file = Path(memo_dir) / HASH_MEMO if memo_dir else None
    memo: dict = {}
    if memo_file is not None and memo_file.is_file():
        try:
            memo = json.loads(memo_file.read_text())
        except ValueError:
            memo = {}
    out, changed = {}, False
    for name, path in sorted(files.items()):
        st = Path(path).stat()
        stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "inode": st.st_ino}
        key = str(Path(path).resolve())
        seen = memo.get(key)
        if seen and all(seen.get(k) == v for k, v in stamp.items()):
            out[name] = seen["sha256"]
            continue
        out[name] = file_sha256(path)
        memo[key] = {**stamp, "sha256": out[name]}
        changed = True
    if memo_file is not None and changed:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_file.with_name(f".{HASH_MEMO}.{os.getpid()}")
        tmp.write_text(json.dumps(memo, indent=1, sort_keys=True))
        os.replace(tmp, memo_file)
    return out


def _table_hash(table: str, files: list[str], hashes: dict[str, str], mapped: bool) -> str:
    """A canonical table's input hash: its file's SHA-256; for a table stacked from several files
    (through a mapping), the SHA-256 of their ``name:sha256`` lines (each file's own hash is in the
    manifest's ``mapping.files``)."""
    if not mapped:  # a table declared absent in unavailable.yml has no file (the notes are in the cache key)
        return hashes.get(table, "")
    if len(files) == 1:
        return hashes[files[0]]
    lines = "\n".join(f"{f}:{hashes[f]}" for f in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def validator_fingerprint() -> str:
    """SHA-256 of the code that reads and validates an export: a cache written under other rules
    (an older contract, mapping reader or source reader) is not reused."""
    digest = hashlib.sha256()
    for module in (contract, validate, mapping, readers, facts):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def is_sample(data_dir: Path) -> bool:
    """A folder written by the sample generator (it leaves its ``truth.json`` beside the tables)."""
    return (Path(data_dir) / SAMPLE_MARKER).is_file()


def prepare_inputs(data_dir: Path, as_of: datetime | None = None, cache_root: Path | None = None,
                   profile: str | Path | None = None) -> Path:
    """Validate ``data_dir`` and return the folder of its canonical Parquet cache.

    ``profile``: read the export through a mapping file (a built-in profile name such as
    ``salesforce`` or a path; see ``docs/mapping-files.md``) instead of canonical files.
    Raises :class:`ContractError` listing every violation; nothing is cached then.
    """
    data_dir = Path(data_dir)
    cache_root = Path(cache_root or paths.PROCESSED_DIR)
    as_of = as_of or datetime.now(timezone.utc).replace(tzinfo=None)
    mapping, notes = None, {}
    if profile is not None:  # a mapping file says what its export lacks itself (`none: <why>`)
        mapping = load_mapping(profile)
        files = {name: data_dir / name for name in mapping.files() if (data_dir / name).is_file()}
    else:
        notes = contract.read_data_notes(data_dir)
        files = _input_files(data_dir, notes)
    hashes = inputs_hash(files, memo_dir=cache_root)
    sample = is_sample(data_dir)
    identity = {"contract": CONTRACT_VERSION, "validator": validator_fingerprint(), "inputs": hashes,
                "sample": sample}
    if notes:
        identity["unavailable"] = notes
    if mapping is not None:
        identity["mapping"] = {"name": mapping.name, "sha256": mapping.sha256()}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    target = cache_root / f"crm-{key}"
    if (target / MANIFEST).is_file():
        return target
    # Validation works in an in-process DuckDB with a memory budget; beyond it, its materialised
    # tables spill to the connection's own folder under data/processed/.duckdb-spill (out of core).
    # (A file-backed database holding them was measured slower: 102 s against 85 s on L.)
    con = connect()
    violations: list[Violation] = []
    canonical, present, excluded, sources = {}, {}, [], {}
    lead_keys = None
    for name in ("leads", "activities", "deals", "reps"):
        if mapping is not None:
            if name not in mapping.tables:
                continue
            mapped = mapped_table(con, mapping, data_dir, name)
            excluded += mapped.excluded
            sources[name] = mapped.files
            table, found, info = validate_raw(mapped.table, mapped.label, CONTRACT[name], lead_keys, as_of,
                                              mapped.exclude, allow_empty=name in mapping.unavailable, con=con)
            excluded += [{**e, "file": ", ".join(mapped.files)} for e in (info or {}).get("excluded", [])]
        elif name in files:
            sources[name] = [files[name].name]
            table, found, info = validate_table(con, files[name], CONTRACT[name], lead_keys, as_of,
                                                allow_empty=name in notes)
        elif name in notes:  # declared absent in unavailable.yml: an empty table, said so in the report
            sources[name] = [contract.DATA_NOTES]
            table, found, info = validate_raw(empty_source(CONTRACT[name]), f"{name} ({contract.DATA_NOTES}: "
                                              f"{notes[name]})", CONTRACT[name], lead_keys, as_of,
                                              allow_empty=True, con=con)
        else:
            continue
        violations += found
        if info:
            canonical[name], present[name] = table, info
        if name == "leads" and info:
            lead_keys = validate.materialise(table.group_by(_known_lead_id=table.lead_id).aggregate(
                _lead_created_at=table.created_at.min(), _lead_rows=table.count()), con)
    if violations:
        raise ContractError(violations)
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".crm-{key}-", dir=cache_root))
    try:
        rows = {}
        for name, table in canonical.items():
            table.to_parquet(str(tmp / f"{name}.parquet"))
            rows[name] = int(con.read_parquet(str(tmp / f"{name}.parquet")).count().execute())
        derived = {}
        if "activities" in canonical:  # facts many pages need, computed once (io/facts.py)
            derived[facts.FIRST_TOUCHES] = facts.write_first_touches(con, tmp, "rep_id" in present["activities"]["columns"])
        manifest = {
            "contract_version": CONTRACT_VERSION,
            "data_dir": str(data_dir),
            "inputs": {n: {"file": ", ".join(sources[n]), "rows": rows[n],
                           "sha256": _table_hash(n, sources[n], hashes, mapping is not None),
                           **{k: v for k, v in present[n].items() if k not in ("file", "excluded")}}
                       for n in canonical},
            "sample": sample,
            "facts": derived,
        }
        if mapping is not None:
            manifest["mapping"] = {"name": mapping.name, "file": mapping.path.name, "sha256": mapping.sha256(),
                                   "files": hashes}
            manifest["excluded"] = excluded
            manifest["unavailable"] = mapping.unavailable
        elif notes:
            manifest["unavailable"] = notes
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        try:
            os.rename(tmp, target)
        except OSError:  # another run cached the same inputs first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
