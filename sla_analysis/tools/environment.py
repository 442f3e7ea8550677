"""``environment.yml`` for conda users, generated from ``requirements.lock`` (``make lock``), so that
the versions are written in one place: ``python -m sla_analysis.tools.environment requirements.lock``."""
from __future__ import annotations

import re
import sys
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)")


def pins(lock_text: str) -> list[str]:
    """``name==version`` for every package pinned in a pip-compile lock (hashes and comments dropped)."""
    return [f"{m.group(1)}=={m.group(2)}" for line in lock_text.splitlines() if (m := PIN.match(line))]


def environment_yml(lock_text: str, python: str = "3.11") -> str:
    """A conda environment with Python, make and pip, and the lock's pins installed by pip."""
    lines = ["# Generated from requirements.lock by `make lock`: do not edit by hand.",
             "name: sla-analysis", "channels:", "  - conda-forge", "dependencies:",
             f"  - python={python}", "  - pip", "  - make", "  - pip:"]
    lines += [f"      - {p}" for p in pins(lock_text)]
    lines += ["      - -e ."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(environment_yml(Path(sys.argv[1] if len(sys.argv) > 1 else "requirements.lock").read_text()))
