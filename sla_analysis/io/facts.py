"""Facts many pages need, computed once per validated export and cached beside its tables.

``first_touches.parquet``: one row per lead with at least one activity:

* ``first_touch_at`` = the lead's earliest activity, any type (``min(occurred_at)``);
* ``first_rep`` = that activity's ``rep_id`` (NULL when it has none); ties on the time go to the
  lowest ``activity_id``.

The first touch *before a moment* ``as_of`` is the lead's first touch when that is before
``as_of``, and none otherwise, so the pages slice this table (speed to lead for each tier, period
and trend period, speed and value, when attempts were made) instead of ranking every activity of
the period's leads again for each question. On L (17.8 million activities) it takes about 1 s to
write once; each first-touch query took about 0.4 s before.

The facts are written by :func:`sla_analysis.io.ingest.prepare_inputs` with the validated tables,
in DuckDB, and read by the DuckDB and Spark engines. A warehouse engine has only the contract's
tables: the pages then compute the same facts in the database (``CRM.first_touches`` is ``None``).
"""
from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.datatypes as dt

FIRST_TOUCHES = "first_touches"
FACTS = (FIRST_TOUCHES,)


def write_first_touches(con: ibis.BaseBackend, folder: Path, has_rep: bool) -> int:
    """``folder/first_touches.parquet`` from ``folder/activities.parquet``; returns its rows.
    ``first_rep`` is the rep of the row with the least ``(occurred_at, activity_id)``, NULL where
    that row has none (DuckDB's ordered ``first``, which keeps NULLs: ``arg_min`` would skip to the
    next row with a rep)."""
    folder = Path(folder)
    a = con.read_parquet(str(folder / "activities.parquet"))
    if has_rep:
        first = a.group_by("lead_id").aggregate(
            first_touch_at=a.occurred_at.min(),
            first_rep=a.rep_id.argmin(ibis.struct({"at": a.occurred_at, "id": a.activity_id})))
    else:  # an export without reps
        first = a.group_by("lead_id").aggregate(first_touch_at=a.occurred_at.min()).mutate(
            first_rep=ibis.null(dt.string))
    first = first.order_by("lead_id")
    first.to_parquet(str(folder / f"{FIRST_TOUCHES}.parquet"))
    return int(con.read_parquet(str(folder / f"{FIRST_TOUCHES}.parquet")).count().execute())
