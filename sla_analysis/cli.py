"""Command line, the suite's one orchestrator (the Makefile only calls it).

``sla-analysis [--project DIR] report --period 2024Q1 [--data DIR] [--profile P] [--config FILE] [--out DIR]``
publishes ``reports/<PERIOD>/``. ``--profile salesforce|hubspot|path/to/mapping.yml`` reads a CRM's
own export through a mapping file (``docs/mapping-files.md``); without it the folder holds the
canonical tables (``docs/data-contract.md``).

``sla-analysis init [DIR]`` writes a project folder (``config/sla.yml``, ``data/raw``, ``reports``)
where an installed package can run; ``--project DIR`` (default: the nearest folder at or above the
current one holding ``config/sla.yml``) says which project a command works in.

``sla-analysis bench [--sizes "S M L"] [--out DIR]`` times the full report on generated CRMs beside
a plain pandas and a bare DuckDB version of the same aggregations (``docs/performance.md``).

``sla-analysis load-warehouse --engine postgres://user@host/db[/schema] [--data DIR|URL] [--profile P]``
validates an export and writes its tables into a PostgreSQL warehouse, where ``report --engine``
then runs the analyses (``docs/warehouse.md``). ``--data postgres://…/db/schema`` reads a CRM's
tables from a database instead of a folder.

``sla-analysis adapt bank-marketing --source bank-full.csv --out DIR [--deal-value X]`` maps a
foreign export into the data contract (``DIR/{leads,activities,deals}.parquet``) and prints ``DIR``.

Exit codes: 0 published; 2 bad parameters or input (nothing published); 1 a notebook failed
(nothing published, the notebook and cell are named).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from sla_analysis import paths
from sla_analysis.errors import USER_ERRORS, ConfigError, NotebookFailed
from sla_analysis.periods import parse_period
from sla_analysis.settings import Settings, using

# The engine, the validator, the orchestrator and the analyses (pandas, Ibis, DuckDB, SciPy,
# statsmodels: about 4 s) are imported by the command that needs them, so that ``--help`` and a
# refused parameter answer at once.

MIN_SAMPLE_LEADS = 100


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sla-analysis", description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=None,
                        help="the project folder (config/, data/, reports/); default: the nearest folder "
                             "at or above the current one that holds config/sla.yml")
    sub = parser.add_subparsers(dest="command", required=True)
    ini = sub.add_parser("init", help="write a project folder: config/sla.yml, data/raw, reports")
    ini.add_argument("folder", type=Path, nargs="?", default=None, help="default: the current folder")
    rep = sub.add_parser("report", help="build and publish one period's report")
    rep.add_argument("--period", required=True, help="2024Q1, 2024-03 or 2024")
    rep.add_argument("--data", type=_data_source, default=None,
                     help="folder with the CRM export (default data/raw), or postgres://…/db/schema")
    rep.add_argument("--config", type=Path, default=None, help="SLA config (default config/sla.yml)")
    rep.add_argument("--out", type=Path, default=None, help="reports folder (default reports/)")
    rep.add_argument("--profile", default=None,
                     help="read the export through a mapping: salesforce, hubspot or a mapping file's path")
    rep.add_argument("--quiet", action="store_true", help="no progress messages")
    rep.add_argument("--engine", default=None,
                     help="where the analyses run: duckdb (default), spark, or an Ibis connection URL")
    rep.add_argument("--jobs", type=_positive_int, default=None,
                     help="notebooks run at once (default: one per core, at most 4); 1 runs them in turn")
    val = sub.add_parser("validate", help="validate a CRM export against the data contract only")
    val.add_argument("--data", type=_data_source, default=None)
    val.add_argument("--profile", default=None, help="as for report")
    sam = sub.add_parser("sample", help="write the sample CRM (and its truth.json) to a folder")
    sam.add_argument("--out", type=Path, required=True)
    sam.add_argument("--leads", type=_sample_leads, default=None,
                     help=f"number of leads, at least {MIN_SAMPLE_LEADS} (default 24,000)")
    ben = sub.add_parser("bench", help="time the full report on generated CRMs (S, M, L) beside pandas and bare DuckDB")
    ben.add_argument("--sizes", default="S M L", help="sizes to run, e.g. 'S M' (S 20k, M 200k, L 2M leads)")
    ben.add_argument("--out", type=Path, default=None, help="folder for bench.json (default reports/bench)")
    wh = sub.add_parser("load-warehouse", help="validate an export and write its tables into a PostgreSQL warehouse")
    wh.add_argument("--engine", required=True, help="the warehouse: postgres://user@host:port/db[/schema]")
    wh.add_argument("--data", type=_data_source, default=None, help="as for report")
    wh.add_argument("--profile", default=None, help="as for report")
    wh.add_argument("--quiet", action="store_true", help="no progress messages")
    ada = sub.add_parser("adapt", help="map a foreign export into the data contract (canonical Parquet tables)")
    ada.add_argument("dataset", choices=["bank-marketing"],
                     help="which export: bank-marketing (UCI Bank Marketing bank-full.csv)")
    ada.add_argument("--source", type=Path, required=True, help="the export file (e.g. bank-full.csv)")
    ada.add_argument("--out", type=Path, required=True, help="folder for leads/activities/deals.parquet")
    ada.add_argument("--deal-value", type=_deal_value, default=None,
                     help="revenue credited to each conversion (the data has none; default 1000)")
    return parser


def _data_source(text: str) -> Path | str:
    """``--data``: a folder, or a database URL (kept as text: a path would fold its ``//``)."""
    return text if "://" in text else Path(text)


def _deal_value(text: str) -> float:
    """``--deal-value``: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _sample_leads(text: str) -> int:
    value = _positive_int(text)
    if value < MIN_SAMPLE_LEADS:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_SAMPLE_LEADS}, got {value}")
    return value


def init_project(folder: Path) -> list[str]:
    """Write a project folder: ``config/sla.yml`` (the default assumptions, to edit), ``data/raw``
    (where the export goes), ``data/processed`` and ``reports``. An existing config is kept.
    Returns what was created."""
    made = []
    for sub in ("data/raw", "data/processed", "reports", "config"):
        target = folder / sub
        if not target.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            made.append(sub + "/")
    config = folder / paths.PROJECT_MARKER
    if not config.exists():
        shutil.copyfile(paths.PACKAGE_DEFAULT_CONFIG, config)
        made.append(str(paths.PROJECT_MARKER))
    return made


def validation_passed(cache: Path) -> str:
    """What ``validate`` says when the export passes: the rows of each table used, the rows a
    mapping's rules left out, and where the validated tables are."""
    manifest = json.loads((cache / "manifest.json").read_text())
    rows = ", ".join(f"{n} {i['rows']:,} rows" for n, i in sorted(manifest["inputs"].items()))
    left = sum(int(e.get("rows") or 0) for e in manifest.get("excluded") or [])
    out = f"validation passed: {rows}"
    if left:
        out += f" ({left:,} rows left out by the mapping's rules)"
    return out + f"\nvalidated tables: {cache}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.project is not None and not args.project.is_dir():
        print(f"error: --project {args.project} is not a folder", file=sys.stderr)
        return 2
    try:
        # the run's settings, built once: the environment's, with the command line's options over them
        run_settings = Settings.from_env().replace(project_root=args.project and args.project.resolve(),
                                                   engine=getattr(args, "engine", None))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with using(run_settings):
        return _command(args, run_settings)


def _command(args: argparse.Namespace, run_settings: Settings) -> int:
    """Run the command ``args`` asks for with ``run_settings`` installed; the exit code."""
    try:
        if args.command == "init":
            folder = (args.folder or args.project or Path.cwd()).resolve()
            made = init_project(folder)
            print(f"project folder {folder}: " + (", ".join(made) + " created" if made else "already set up"))
            print("Put the CRM export in data/raw (or pass --data), edit config/sla.yml, then run "
                  "`sla-analysis report --period 2024Q1`.")
        elif args.command == "report":
            parse_period(args.period)  # refused before anything else happens
            from sla_analysis.io.engine import engine_name
            from sla_analysis.report.run import run_report

            engine = engine_name(args.engine)
            run_report(args.period, args.data, args.config, args.out, quiet=args.quiet, profile=args.profile,
                       jobs=args.jobs, engine=engine, run_settings=run_settings)
        elif args.command == "validate":
            from sla_analysis.io.inputs import resolve_inputs

            print(validation_passed(resolve_inputs(args.data, profile=args.profile)))
        elif args.command == "sample":
            from sla_analysis.io.sample import SampleParams, write_sample  # the generator's SciPy: only here

            params = SampleParams() if args.leads is None else replace(SampleParams(), n_leads=args.leads)
            print(write_sample(args.out, params))
        elif args.command == "bench":
            from sla_analysis.tools.bench import SIZES, run_bench, table

            sizes = args.sizes.replace(",", " ").split()
            unknown = [x for x in sizes if x not in SIZES]
            if unknown or not sizes:
                print(f"error: --sizes takes {', '.join(SIZES)}; got {args.sizes!r}", file=sys.stderr)
                return 2
            print(table(run_bench(sizes, out=args.out)))
        elif args.command == "load-warehouse":
            from sla_analysis.io.engine import engine_name, is_postgres, redact_url
            from sla_analysis.io.inputs import resolve_inputs
            from sla_analysis.io.warehouse import load_tables

            engine = engine_name(args.engine)
            if not is_postgres(engine):
                print("error: --engine must be a postgres:// URL (the warehouse to load)", file=sys.stderr)
                return 2
            crm_dir = resolve_inputs(args.data, args.quiet, profile=args.profile)
            rows = load_tables(crm_dir, engine)
            print(f"loaded into {redact_url(engine)}: " + ", ".join(f"{n} {r:,} rows" for n, r in rows.items()))
        elif args.command == "adapt":
            from sla_analysis.io.adapters import bank_marketing

            extra = {} if args.deal_value is None else {"deal_value": args.deal_value}
            print(bank_marketing.to_contract(args.source, args.out, **extra))
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except NotebookFailed as err:
        print(f"error: {err}\nNothing was published; the previous report (if any) is unchanged.", file=sys.stderr)
        return 1
    return 0
