"""Command line: ``python -m sla_analysis report --period 2024Q1 [--data DIR] [--profile P] [--config FILE] [--out DIR]``.

``--profile salesforce|hubspot|path/to/mapping.yml`` reads a CRM's own export through a mapping file
(``docs/mapping-files.md``); without it the folder holds the canonical tables (``docs/data-contract.md``).

``python -m sla_analysis bench [--sizes "S M L"]`` times the full report on generated CRMs beside a
plain pandas and a bare DuckDB version of the same aggregations (``docs/performance.md``).

``python -m sla_analysis adapt bank-marketing --source bank-full.csv --out DIR [--deal-value X]`` maps a
foreign export into the data contract (``DIR/{leads,activities,deals}.parquet``) and prints ``DIR``.

Exit codes: 0 published; 2 bad parameters or input (nothing published); 1 a notebook failed
(nothing published, the notebook and cell are named).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .adapters import AdapterError
from .config import ConfigError
from .contract import ContractError
from .periods import PeriodError, parse_period


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sla_analysis", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="build and publish one period's report")
    rep.add_argument("--period", required=True, help="2024Q1, 2024-03 or 2024")
    rep.add_argument("--data", type=Path, default=None, help="folder with the CRM export (default data/raw)")
    rep.add_argument("--config", type=Path, default=None, help="SLA config (default config/sla.yml)")
    rep.add_argument("--out", type=Path, default=None, help="reports folder (default reports/)")
    rep.add_argument("--profile", default=None,
                     help="read the export through a mapping: salesforce, hubspot or a mapping file's path")
    rep.add_argument("--quiet", action="store_true", help="no progress messages")
    rep.add_argument("--engine", default=None,
                     help="where the analyses run: duckdb (default), spark, or an Ibis connection URL")
    rep.add_argument("--jobs", type=int, default=None,
                     help="notebooks run at once (default: one per core, at most 4); 1 runs them in turn")
    val = sub.add_parser("validate", help="validate a CRM export against the data contract only")
    val.add_argument("--data", type=Path, default=None)
    val.add_argument("--profile", default=None, help="as for report")
    sam = sub.add_parser("sample", help="write the sample CRM (and its truth.json) to a folder")
    sam.add_argument("--out", type=Path, required=True)
    sam.add_argument("--leads", type=int, default=None, help="number of leads (default 24,000)")
    ben = sub.add_parser("bench", help="time the full report on generated CRMs (S, M, L) beside pandas and bare DuckDB")
    ben.add_argument("--sizes", default="S M L", help="sizes to run, e.g. 'S M' (S 20k, M 200k, L 2M leads)")
    ben.add_argument("--out", type=Path, default=None, help="folder for bench.json (default reports/bench)")
    ada = sub.add_parser("adapt", help="map a foreign export into the data contract (canonical Parquet tables)")
    ada.add_argument("dataset", choices=["bank-marketing"],
                     help="which export: bank-marketing (UCI Bank Marketing bank-full.csv)")
    ada.add_argument("--source", type=Path, required=True, help="the export file (e.g. bank-full.csv)")
    ada.add_argument("--out", type=Path, required=True, help="folder for leads/activities/deals.parquet")
    ada.add_argument("--deal-value", type=_deal_value, default=None,
                     help="revenue credited to each conversion (the data has none; default 1000)")
    return parser


def _deal_value(text: str) -> float:
    """``--deal-value``: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "report":
            from .orchestrate import run_report
            parse_period(args.period)  # refused before anything else happens
            if args.jobs is not None and args.jobs < 1:
                print(f"error: --jobs must be 1 or more, got {args.jobs}", file=sys.stderr)
                return 2
            from .engine import engine_name
            try:
                engine = engine_name(args.engine)
            except ValueError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
            run_report(args.period, args.data, args.config, args.out, quiet=args.quiet, profile=args.profile,
                       jobs=args.jobs, engine=engine)
        elif args.command == "validate":
            from .orchestrate import resolve_inputs
            print(resolve_inputs(args.data, profile=args.profile))
        elif args.command == "sample":
            from dataclasses import replace
            from .sample import SampleParams, write_sample
            params = SampleParams() if args.leads is None else replace(SampleParams(), n_leads=args.leads)
            print(write_sample(args.out, params))
        elif args.command == "bench":
            from .bench import SIZES, run_bench, table
            sizes = args.sizes.replace(",", " ").split()
            unknown = [x for x in sizes if x not in SIZES]
            if unknown or not sizes:
                print(f"error: --sizes takes {', '.join(SIZES)}; got {args.sizes!r}", file=sys.stderr)
                return 2
            print(table(run_bench(sizes)))
        elif args.command == "adapt":
            from .adapters import bank_marketing
            extra = {} if args.deal_value is None else {"deal_value": args.deal_value}
            print(bank_marketing.to_contract(args.source, args.out, **extra))
    except (PeriodError, ConfigError, ContractError, AdapterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - one readable line, not a traceback
        from .orchestrate import NotebookFailed
        if isinstance(err, NotebookFailed):
            print(f"error: {err}\nNothing was published; the previous report (if any) is unchanged.",
                  file=sys.stderr)
            return 1
        raise
    return 0
