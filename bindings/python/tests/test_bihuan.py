"""The Python binding against the real libbihuan.so (BIHUAN_LIBRARY) and a real store in a
temporary directory; the clock is the engine's virtual clock."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import threading

import pytest

import bihuan

DEFINITION = {
    "id": "py.review",
    "version": 1,
    "initial": "review",
    "states": {
        "review": {
            "timers": [{"id": "remind", "after": "PT1H", "target": "late"}],
            "on": {
                "approve": {"roles": ["manager"], "target": "done"},
                "reject": {"roles": ["manager"], "target": "rejected"},
            },
        },
        "late": {"on": {"approve": {"roles": ["manager"], "target": "done"}}},
        "done": {"type": "final", "outcome": "approved"},
        "rejected": {"type": "final", "outcome": "rejected"},
    },
}
MANAGER = bihuan.actor("li.si", "manager")


@pytest.fixture
def engine(tmp_path):
    with bihuan.open(str(tmp_path / "data"), virtual_clock="2024-01-01T00:00:00Z", durable=False) as eng:
        eng.deploy(DEFINITION)
        yield eng


def test_start_send_get(engine):
    inst = engine.start("py.review", {"amount": 5}, business_key="claim-1")
    assert inst["state"] == "review" and inst["created"] is True
    after = engine.send(inst["id"], "approve", actor=MANAGER)
    assert after["status"] == "completed" and after["outcome"] == "approved"
    assert engine.get(inst["id"])["data"] == {"amount": 5}
    assert engine.get_by_key("claim-1")["id"] == inst["id"]
    by_key = engine.start("py.review", business_key="claim-2")
    assert engine.send(None, "reject", business_key="claim-2", actor=MANAGER)["id"] == by_key["id"]


def test_errors_carry_code_type_and_pointer(engine):
    inst = engine.start("py.review")
    with pytest.raises(bihuan.RefusedError) as refused:
        engine.send(inst["id"], "approve", actor=bihuan.actor("wang.wu", "clerk"))
    assert refused.value.code == 3 and refused.value.type == "role-not-allowed"
    with pytest.raises(bihuan.NotFoundError):
        engine.get("00000000000000ff")
    with pytest.raises(bihuan.InvalidError) as bad:
        engine.start("py.review", data="not an object")  # type: ignore[arg-type]
    assert bad.value.pointer == "/data"
    with pytest.raises(bihuan.InvalidError) as bad_json:
        engine.deploy('{"id": "x",\n "version": }')
    assert bad_json.value.type == "invalid-json" and bad_json.value.problems[0]["line"] == 2
    with pytest.raises(bihuan.RefusedError) as bad_def:
        engine.deploy({"id": "py.bad", "version": 1, "initial": "a",
                       "states": {"a": {"on": {"go": {"target": "missing"}}}}})
    assert "/states/a/on/go/target" in [p["pointer"] for p in bad_def.value.problems]
    assert isinstance(bad_def.value, bihuan.Error)


def test_query_and_inbox_iterate_over_pages(engine):
    ids = {engine.start("py.review", business_key=f"k{i}")["id"] for i in range(7)}
    assert {i["id"] for i in engine.query("py.review", page_size=2)} == ids
    assert [i["id"] for i in engine.query("py.review", business_key_prefix="k3")] != []
    tasks = list(engine.inbox(MANAGER, page_size=3))
    assert len(tasks) == 7 and tasks[0]["events"] == ["approve", "reject"]
    with pytest.raises(bihuan.InvalidError) as bad:
        engine.query_page(definition="py.review", cursor="nonsense")
    assert bad.value.pointer == "/cursor"


def test_history_pages_and_order(engine):
    inst = engine.start("py.review")
    engine.advance(dt.timedelta(hours=1))
    engine.send(inst["id"], "approve", actor=MANAGER)
    kinds = [e["kind"] for e in engine.history(inst["id"], page_size=1)]
    assert kinds == ["start", "timer", "event"]
    newest = [e["kind"] for e in engine.history(inst["id"], newest_first=True, page_size=2)]
    assert newest == ["event", "timer", "start"]
    assert len(list(engine.history_pages(inst["id"], page_size=2))) == 2


def test_virtual_clock_fires_timers(engine):
    inst = engine.start("py.review")
    assert engine.now() == dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    assert engine.advance(seconds=59 * 60) == 0
    assert engine.advance_to("2024-01-01T01:00:00Z") == 1
    assert engine.get(inst["id"])["state"] == "late"


def test_stats_and_verify(engine):
    a = engine.start("py.review")
    engine.start("py.review")
    engine.send(a["id"], "approve", actor=MANAGER)
    stats = engine.stats("py.review", ["status"])
    assert stats["total"] == 2 and len(stats["groups"]) == 2
    report = engine.verify()
    assert report["ok"] is True and report["instances"] == 2
    with pytest.raises(bihuan.InvalidError) as bad:
        engine.stats(group_by=["colour"])
    assert bad.value.pointer == "/groupBy/0"


def test_send_async_callback_and_future(engine):
    inst = engine.start("py.review")
    done = threading.Event()
    seen = {}

    def callback(result, error):
        seen["result"], seen["error"], seen["thread"] = result, error, threading.get_ident()
        done.set()

    engine.send_async(inst["id"], "reject", callback, actor=MANAGER)
    assert done.wait(10)
    assert seen["error"] is None and seen["result"]["outcome"] == "rejected"
    assert seen["thread"] != threading.get_ident()  # an engine thread
    future = engine.send_future(inst["id"], "approve", actor=MANAGER)
    with pytest.raises(bihuan.RefusedError) as ended:
        future.result(10)
    assert ended.value.type == "instance-ended"


def test_callback_that_raises_does_not_crash(engine, capfd):
    inst = engine.start("py.review")
    done = threading.Event()

    def callback(result, error):
        done.set()
        raise RuntimeError("callback failed on purpose")

    engine.send_async(inst["id"], "approve", callback, actor=MANAGER)
    assert done.wait(10)
    engine.close()  # waits for the callback to have returned
    assert [str(e) for e in engine.callback_errors] == ["callback failed on purpose"]
    assert "callback failed on purpose" in capfd.readouterr().err


def test_closed_engine_raises_closed(tmp_path):
    eng = bihuan.open(str(tmp_path / "d"))
    eng.close()
    eng.close()  # idempotent
    with pytest.raises(bihuan.ClosedError):
        eng.get("x")
    with pytest.raises(bihuan.ClosedError):
        eng.send_async("x", "e", lambda r, e: None)


def test_open_errors(tmp_path):
    with pytest.raises(bihuan.InvalidError) as bad:
        bihuan.open(str(tmp_path), virtual_clock="soon")
    assert bad.value.pointer == "/virtualClock"
    with pytest.raises(bihuan.InvalidError):
        bihuan.Engine(str(tmp_path), colour="blue")
    with pytest.raises(bihuan.StorageError):
        bihuan.open("/proc/bihuan-cannot-be-here")
    with pytest.raises(bihuan.InvalidError):
        bihuan.open(str(tmp_path)).advance(seconds=1)  # the system clock


def test_system_clock_engine_survives_reopen(tmp_path):
    with bihuan.open(str(tmp_path / "d")) as eng:
        eng.deploy(DEFINITION)
        inst = eng.start("py.review", business_key="kept")
    with bihuan.open(str(tmp_path / "d")) as eng:
        assert eng.get_by_key("kept")["id"] == inst["id"]


def test_wrong_abi_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(bihuan, "ABI_VERSION", bihuan.ABI_VERSION + 1)
    with pytest.raises(bihuan.AbiError):
        bihuan.open(str(tmp_path / "d"))


def test_engine_left_open_is_released_at_exit(tmp_path):
    # A program that never closes its engine, with a callback in flight: exits cleanly.
    code = textwrap.dedent(
        f"""
        import bihuan, json
        eng = bihuan.open({str(tmp_path / "d")!r}, durable=False)
        eng.deploy({DEFINITION!r})
        inst = eng.start("py.review")
        eng.send_async(inst["id"], "approve", lambda r, e: print("done", r["state"]),
                       actor=bihuan.actor("m", "manager"))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
