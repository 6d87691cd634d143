"""The event fold on synthetic ansible-runner events (shapes copied from real runs)."""

from __future__ import annotations

from typing import Any

from homelab_ctl.runner import MASK, Redactor
from homelab_ctl.runner.events import Tracker, result_message


def ev(kind: str, host: str = "cp1", task: str = "T", **data: Any) -> dict[str, Any]:
    return {"event": kind, "stdout": "", "event_data": {"host": host, "task": task, **data}}


def test_live_counts_then_recap_wins() -> None:
    t = Tracker(Redactor())
    t.feed(ev("runner_on_start", task="Containerd | Install"))
    t.feed(ev("runner_on_ok", task="Containerd | Install", res={"changed": True}))
    t.feed(ev("runner_on_skipped"))
    line = t.snapshot()["cp1"]
    assert line.task == "Containerd | Install" and (line.stats.ok, line.stats.changed, line.stats.skipped) == (1, 1, 1)
    t.feed({"event": "playbook_on_stats", "event_data": {
        "ok": {"cp1": 5, "cp2": 4}, "changed": {"cp1": 2}, "failures": {}, "dark": {"w1": 1},
        "skipped": {}, "rescued": {}, "ignored": {}, "processed": {"cp1": 1, "cp2": 1, "w1": 1}}})
    recap = t.recap()
    assert sorted(recap) == ["cp1", "cp2", "w1"]
    assert (recap["cp1"].ok, recap["cp1"].changed, recap["w1"].unreachable) == (5, 2, 1)


def test_rescued_failure_is_skipped_for_the_one_that_stuck() -> None:
    t = Tracker(Redactor())
    t.feed(ev("runner_on_failed", host="cp1", task="Probe", res={"msg": "rescued later"}))
    t.feed(ev("runner_on_failed", host="w1", task="Join", res={"msg": "boom"}))
    t.feed({"event": "playbook_on_stats", "event_data": {"failures": {"w1": 1}, "rescued": {"cp1": 1},
                                                         "ok": {"cp1": 3}, "processed": {"cp1": 1, "w1": 1}}})
    failure = t.first_failure()
    assert failure is not None and (failure.host, failure.task, failure.message) == ("w1", "Join", "boom")


def test_ignored_errors_are_not_failures() -> None:
    t = Tracker(Redactor())
    assert t.feed(ev("runner_on_failed", ignore_errors=True, res={"msg": "meh"})) is None
    assert t.first_failure() is None and t.snapshot()["cp1"].stats.ignored == 1


def test_messages() -> None:
    assert result_message({"msg": "non-zero return code", "stderr": "a\nE: Unable to locate package x\n"}) == \
        "non-zero return code: E: Unable to locate package x"
    assert result_message({"censored": "the output has been hidden"}) == "output hidden (no_log: true)"
    loop = {"msg": "One or more items failed", "results": [{"failed": False}, {"failed": True, "msg": "item 2"}]}
    assert result_message(loop) == "item 2"
    assert result_message({}) == "failed (no message)"
    assert len(result_message({"msg": "x" * 5000})) == 400


def test_everything_kept_is_redacted() -> None:
    t = Tracker(Redactor(["s3cr3t-token"]))
    f = t.feed(ev("runner_on_failed", task="Join s3cr3t-token", res={"msg": "bad s3cr3t-token"}))
    assert f is not None and f.task == f"Join {MASK}" and f.message == f"bad {MASK}"
    t.feed({"event": "verbose", "stdout": "[ERROR]: s3cr3t-token is wrong\r\nOrigin: x.yml:1:1"})
    assert t.error_detail() == f"[ERROR]: {MASK} is wrong Origin: x.yml:1:1"


def test_slowest_tasks_take_each_tasks_slowest_host() -> None:
    t = Tracker(Redactor(["s3cr3t"]))
    t.feed(ev("runner_on_ok", host="cp1", task="Apt | install", duration=4.0))
    t.feed(ev("runner_on_ok", host="cp2", task="Apt | install", duration=6.5))
    t.feed(ev("runner_on_skipped", host="cp1", task="Skip me", duration=0.01))
    t.feed(ev("runner_on_failed", host="w1", task="Token s3cr3t", duration=2.0, ignore_errors=True))
    t.feed(ev("runner_on_start", host="cp1", task="Started, never ended"))
    assert t.slowest_tasks() == [("Apt | install", 6.5), (f"Token {MASK}", 2.0), ("Skip me", 0.01)]
    assert t.slowest_tasks(1) == [("Apt | install", 6.5)]
