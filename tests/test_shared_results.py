"""Results shared by a report's pages (io/shared_results.py): a query two pages ask runs once, and
every page gets exactly what running it would have given."""
import fcntl
import threading
import time
from datetime import datetime

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from sla_analysis.analyses import compliance as cp
from sla_analysis.analyses import lead_value as lv
from sla_analysis.io import shared_results as sr
from sla_analysis.io.engine import open_crm

START, STOP, AS_OF = datetime(2023, 7, 1), datetime(2024, 1, 1), datetime(2024, 4, 1)


def _questions(crm) -> dict:
    """A few of the pages' questions: a frame, a scalar, an Arrow table."""
    return {"funnel": lv.source_funnel(crm, START, STOP, AS_OF),
            "speed": cp.first_touch_table(crm, START, STOP, AS_OF).group_by("tier").aggregate(
                n=lambda t: t.count(), hours=lambda t: t.hours_to_first_touch.sum()).order_by("tier").to_pandas(),
            "leads": crm.leads.count().execute(),
            "sources": crm.leads.group_by("source").aggregate(n=crm.leads.count()).order_by("source").to_pyarrow()}


def _assert_same(a: dict, b: dict) -> None:
    pd.testing.assert_frame_equal(a["funnel"], b["funnel"])
    pd.testing.assert_frame_equal(a["speed"], b["speed"])
    assert a["leads"] == b["leads"] and type(a["leads"]) is type(b["leads"])
    assert a["sources"].equals(b["sources"]) and a["sources"].schema == b["sources"].schema


def test_two_pages_get_what_running_the_query_gives(sample_cache, tmp_path):
    alone = _questions(open_crm(sample_cache))
    first = _questions(open_crm(sample_cache, shared=tmp_path))
    kept = sorted(tmp_path.glob("*.arrow"))
    assert kept, "the first page keeps its results"
    second = _questions(open_crm(sample_cache, shared=tmp_path))  # another page: another connection
    assert sorted(tmp_path.glob("*.arrow")) == kept, "the second page runs no query of its own"
    _assert_same(alone, first)
    _assert_same(alone, second)


def test_a_kept_result_is_read_not_run_again(sample_cache, tmp_path):
    """The proof that the second page reads the first page's result: a result replaced in the
    folder is what the second page gets."""
    page_one, page_two = open_crm(sample_cache, shared=tmp_path), open_crm(sample_cache, shared=tmp_path)
    expr = page_one.leads.aggregate(n=page_one.leads.count())
    assert page_one.leads.aggregate(n=page_one.leads.count()).to_pandas().n.iloc[0] > 100
    sql = page_one.tables["leads"].get_backend().compile(expr)
    path = tmp_path / f"{sr.query_key(sql, str(sample_cache.resolve()))}.arrow"
    assert path.is_file()
    sr._write(pa.table({"n": pa.array([7], pa.int64())}), path)
    assert page_two.leads.aggregate(n=page_two.leads.count()).to_pandas().n.iloc[0] == 7
    # another question (another literal) is another query
    other = page_two.leads.filter(page_two.leads.source == "web")
    assert other.aggregate(n=other.count()).to_pandas().n.iloc[0] != 7
    assert len(list(tmp_path.glob("*.arrow"))) == 2


def test_the_same_query_on_another_export_is_another_result(tmp_path):
    """The key holds the validated export: the same SQL on other data is not served the first's result."""
    sql = "SELECT 1 AS x"
    sr.shared_result(tmp_path, sql, lambda: pa.table({"x": [1]}), scope="crm-a")
    assert sr.shared_result(tmp_path, sql, lambda: pa.table({"x": [2]}), scope="crm-b").column("x").to_pylist() == [2]
    assert sr.shared_result(tmp_path, sql, lambda: pa.table({"x": [3]}), scope="crm-a").column("x").to_pylist() == [1]


def test_a_page_asking_while_another_runs_the_query_waits_and_reads_it(tmp_path):
    sql = "SELECT 1 AS x"
    lock = open(tmp_path / f".{sr.query_key(sql)}.arrow.lock", "a")
    fcntl.flock(lock, fcntl.LOCK_EX)  # the first page is running it
    got, ran = {}, []

    def second_page():
        got["table"] = sr.shared_result(tmp_path, sql, lambda: ran.append(1) or pa.table({"x": [1]}))

    t = threading.Thread(target=second_page)
    t.start()
    time.sleep(0.3)
    assert "table" not in got, "the second page waits for the first"
    sr._write(pa.table({"x": [42]}), tmp_path / f"{sr.query_key(sql)}.arrow")  # the first page's result
    fcntl.flock(lock, fcntl.LOCK_UN)
    t.join(30)
    assert got["table"].column("x").to_pylist() == [42] and not ran


def test_a_failed_query_keeps_nothing(tmp_path):
    def fails():
        raise RuntimeError("the engine gave up")
    with pytest.raises(RuntimeError, match="gave up"):
        sr.shared_result(tmp_path, "SELECT 2", fails)
    assert not list(tmp_path.glob("*.arrow"))
    assert sr.shared_result(tmp_path, "SELECT 2", lambda: pa.table({"y": [2]})).column("y").to_pylist() == [2]


def test_a_result_that_cannot_be_kept_is_still_returned(tmp_path, monkeypatch):
    """A full disk while keeping a result: the page has its result, nothing half-written is left,
    and the next ask runs the query again."""
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    with monkeypatch.context() as m:
        m.setattr(sr.ipc, "new_file", full)
        got = sr.shared_result(tmp_path, "SELECT 3", lambda: pa.table({"z": [3]}))
    assert got.column("z").to_pylist() == [3]
    assert not list(tmp_path.glob("*.arrow")) and not list(tmp_path.glob(".*.tmp"))
    assert sr.shared_result(tmp_path, "SELECT 3", lambda: pa.table({"z": [4]})).column("z").to_pylist() == [4]


def test_a_kept_result_that_cannot_be_read_is_run_again(tmp_path):
    sr.shared_result(tmp_path, "SELECT 5", lambda: pa.table({"v": [5]}))
    (path,) = tmp_path.glob("*.arrow")
    path.write_bytes(b"not an Arrow file")
    assert sr.shared_result(tmp_path, "SELECT 5", lambda: pa.table({"v": [6]})).column("v").to_pylist() == [6]


def test_types_and_empty_results_come_back_as_running_the_query_gives(sample_cache, tmp_path):
    """Timestamps, decimals, an all-NULL column and a result without rows, through ``execute``."""
    def ask(crm):
        t = crm.leads.order_by("lead_id").limit(5)
        typed = t.select("lead_id", "mql_at", d=ibis.literal("12.34").cast("decimal(10, 2)"),
                         none=ibis.null("string"), n=t.lead_id.length()).to_pandas()
        empty = crm.leads.filter(crm.leads.lead_id == "no such lead").select("lead_id", "created_at").to_pandas()
        return typed, empty
    alone = ask(open_crm(sample_cache))
    ask(open_crm(sample_cache, shared=tmp_path))
    kept = len(list(tmp_path.glob("*.arrow")))
    shared = ask(open_crm(sample_cache, shared=tmp_path))
    assert kept == 2 and len(list(tmp_path.glob("*.arrow"))) == 2
    for a, b in zip(alone, shared):
        pd.testing.assert_frame_equal(a, b)
    assert shared[1].empty and str(shared[0].mql_at.dtype) == str(alone[0].mql_at.dtype)


def test_what_is_not_in_the_export_is_never_shared(sample_cache, tmp_path):
    """A query reading an in-memory table (which a page could fill differently under the same name)
    runs as before."""
    crm = open_crm(sample_cache, shared=tmp_path)
    rates = ibis.memtable({"source": ["webinar", "tradeshow"], "weight": [1.0, 2.0]})
    joined = crm.leads.inner_join(rates, "source")
    assert joined.count().execute() > 0
    assert not list(tmp_path.glob("*.arrow"))


def test_anything_else_asked_of_a_kept_result_goes_to_duckdb(sample_cache, tmp_path):
    crm = open_crm(sample_cache, shared=tmp_path)
    backend = crm.leads.get_backend()
    relation = backend._to_duckdb_relation(crm.leads.group_by("source").aggregate(n=crm.leads.count()))
    assert relation.to_arrow_table().num_rows == relation.shape[0] > 1


def test_without_a_report_nothing_is_shared(sample_cache):
    crm = open_crm(sample_cache)
    backend = crm.leads.get_backend()
    assert "_to_duckdb_relation" not in vars(backend)
