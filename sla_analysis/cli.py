"""Command line: ``python -m sla_analysis report --period 2024Q1 [--data DIR] [--config FILE] [--out DIR]``.

Exit codes: 0 published; 2 bad parameters or input (nothing published); 1 a notebook failed
(nothing published, the notebook and cell are named).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    rep.add_argument("--quiet", action="store_true", help="no progress messages")
    val = sub.add_parser("validate", help="validate a CRM export against the data contract only")
    val.add_argument("--data", type=Path, default=None)
    sam = sub.add_parser("sample", help="write the sample CRM (and its truth.json) to a folder")
    sam.add_argument("--out", type=Path, required=True)
    sam.add_argument("--leads", type=int, default=None, help="number of leads (default 24,000)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "report":
            from .orchestrate import run_report
            parse_period(args.period)  # refused before anything else happens
            run_report(args.period, args.data, args.config, args.out, quiet=args.quiet)
        elif args.command == "validate":
            from .orchestrate import resolve_inputs
            print(resolve_inputs(args.data))
        elif args.command == "sample":
            from dataclasses import replace
            from .sample import SampleParams, write_sample
            params = SampleParams() if args.leads is None else replace(SampleParams(), n_leads=args.leads)
            print(write_sample(args.out, params))
    except (PeriodError, ConfigError, ContractError) as err:
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
