"""The ledger on moto's DynamoDB: the single-flight lock's rules, and what a run record keeps."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover_controller.clients import ClientFactory
from failover_controller.errors import FailoverError, TransientAwsError
from failover_controller.ledger import Ledger, Lock
from failoverctl.drill import world
from tests.support import aws_like
from tests.support.moto_atomic import atomic_dynamodb_writes

T0 = 1_800_000_000  # a fixed instant: every lock below is judged against it, never against the clock


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with mock_aws():
        session = boto3.Session()
        aws_like.eventually_consistent_reads(session)
        f = ClientFactory(session=session)
        world.create_ledger_table(f, "us-west-2", "ledger")
        yield Ledger("ledger", "us-west-2", f)


def test_one_owner_at_a_time_and_the_same_owner_again(ledger: Ledger) -> None:
    assert ledger.acquire_lock("recsys", "run-a", 600, now=T0) == Lock(True, "run-a", T0 + 600)
    assert ledger.acquire_lock("recsys", "run-b", 600, now=T0 + 1) == Lock(False, "run-a", T0 + 600)
    assert ledger.acquire_lock("recsys", "run-a", 900, now=T0 + 2) == Lock(True, "run-a", T0 + 902)
    assert ledger.get("recsys", "LOCK") == {
        "pk": "PLAN#recsys",
        "sk": "LOCK",
        "owner": "run-a",
        "acquired_at": T0 + 2,
        "expires_at": T0 + 902,
    }


def test_a_lock_holds_until_its_expiry_and_is_taken_over_after(ledger: Ledger) -> None:
    ledger.acquire_lock("recsys", "dead-run", 60, now=T0)
    assert not ledger.acquire_lock("recsys", "run-b", 60, now=T0 + 60).acquired
    assert ledger.acquire_lock("recsys", "run-b", 60, now=T0 + 61) == Lock(True, "run-b", T0 + 121)


def test_locks_of_two_plans_are_independent(ledger: Ledger) -> None:
    assert ledger.acquire_lock("recsys", "run-a", 600, now=T0).acquired
    assert ledger.acquire_lock("search", "run-b", 600, now=T0).acquired


def test_only_the_owner_releases(ledger: Ledger) -> None:
    assert ledger.release_lock("recsys", "run-a") is False  # nobody holds it
    ledger.acquire_lock("recsys", "run-a", 600, now=T0)
    assert ledger.release_lock("recsys", "run-b") is False
    assert ledger.get("recsys", "LOCK") is not None
    assert ledger.release_lock("recsys", "run-a") is True
    assert ledger.get("recsys", "LOCK") is None


def test_a_ledger_that_cannot_be_written_is_named(ledger: Ledger) -> None:
    missing = Ledger("no-such-table", "us-west-2", ledger.factory)
    with pytest.raises(FailoverError, match=r"^ledger lock: not found"):
        missing.acquire_lock("recsys", "run-a", 600, now=T0)
    with pytest.raises(FailoverError, match=r"^ledger lock release: not found"):
        missing.release_lock("recsys", "run-a")
    with pytest.raises(FailoverError, match=r"^ledger recsys LOCK: not found"):
        missing.get("recsys", "LOCK")


def test_a_record_keeps_its_values_and_drops_what_is_empty(ledger: Ledger) -> None:
    ledger.put(
        "recsys",
        "RUN#1",
        {"lag": 830.5, "whole": 2.0, "count": 3, "nested": {"a": None, "b": [1.5, "x"]}, "gone": None, "flag": False},
    )
    assert ledger.get("recsys", "RUN#1") == {
        "pk": "PLAN#recsys",
        "sk": "RUN#1",
        "lag": 830.5,
        "whole": 2,
        "count": 3,
        "nested": {"b": [1.5, "x"]},
        "flag": False,
    }
    item = ledger.get("recsys", "RUN#1")
    assert item is not None
    assert (type(item["whole"]), type(item["count"]), type(item["lag"])) == (int, int, float)


def test_runs_are_newest_first_limited_and_only_runs(ledger: Ledger) -> None:
    for stamp in ("2026-11-01", "2026-11-03", "2026-11-02"):
        ledger.put("recsys", f"RUN#{stamp}#x", {"started_at": stamp})
    ledger.put("recsys", "LAST_RUN", {"started_at": "2026-11-03"})
    ledger.put("search", "RUN#2026-11-04#y", {"started_at": "2026-11-04"})
    assert [r["started_at"] for r in ledger.runs("recsys")] == ["2026-11-03", "2026-11-02", "2026-11-01"]
    assert [r["started_at"] for r in ledger.runs("recsys", limit=2)] == ["2026-11-03", "2026-11-02"]


def test_several_items_in_one_read(ledger: Ledger) -> None:
    ledger.acquire_lock("recsys", "run-a", 600, now=T0)
    many = ledger.get_many("recsys", ["LOCK", "LAST_RUN"])
    assert list(many) == ["LOCK"]
    assert many["LOCK"]["owner"] == "run-a"


def test_a_record_that_cannot_be_written_or_listed_is_named(ledger: Ledger) -> None:
    missing = Ledger("no-such-table", "us-west-2", ledger.factory)
    with pytest.raises(FailoverError, match=r"^ledger recsys RUN#1: not found"):
        missing.put("recsys", "RUN#1", {"a": 1})
    with pytest.raises(FailoverError, match=r"^ledger RUN#\* of recsys: not found"):
        missing.runs("recsys")
    with pytest.raises(FailoverError, match=r"^ledger recsys LOCK, LAST_RUN: not found"):
        missing.get_many("recsys", ["LOCK", "LAST_RUN"])


def test_the_last_twenty_runs_by_default(ledger: Ledger) -> None:
    for day in range(1, 26):
        ledger.put("recsys", f"RUN#2026-11-{day:02d}#x", {"day": day})
    assert [r["day"] for r in ledger.runs("recsys")] == list(range(25, 5, -1))


def throttled(ledger: Ledger, times: int, *, partly: bool = False) -> dict[str, int]:
    """BatchGetItem answers its first ``times`` calls with every key unprocessed (``partly``: the first key
    answered, the rest unprocessed), as DynamoDB does when throttled; returns the count of calls made."""
    calls = {"n": 0}

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["ledger_request"] = params

    def answer(context: dict[str, Any], **_: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > times:
            return None
        asked = context["ledger_request"]["RequestItems"]
        if not partly:  # no Responses at all: nothing was read
            return aws_like._answer({"UnprocessedKeys": asked})
        ((table, wanted),) = asked.items()
        first, *rest = wanted["Keys"]
        found = raw.get_item(TableName=table, Key=first, ConsistentRead=True)["Item"]
        return aws_like._answer({"Responses": {table: [found]}, "UnprocessedKeys": {table: {**wanted, "Keys": rest}}})

    raw = boto3.client("dynamodb", region_name="us-west-2")

    ddb = ledger.factory.dynamodb("us-west-2")
    ddb.meta.events.register("before-parameter-build.dynamodb.BatchGetItem", remember)
    ddb.meta.events.register("before-call.dynamodb.BatchGetItem", answer)
    return calls


def test_unprocessed_keys_are_asked_again(ledger: Ledger) -> None:
    ledger.acquire_lock("recsys", "run-a", 600, now=T0)
    ledger.put("recsys", "LAST_RUN", {"execution": "run-0"})
    calls = throttled(ledger, 2)
    many = ledger.get_many("recsys", ["LOCK", "LAST_RUN"])
    assert sorted(many) == ["LAST_RUN", "LOCK"]
    assert calls["n"] == 3


def test_keys_still_unprocessed_are_an_error_not_an_absence(ledger: Ledger) -> None:
    ledger.put("recsys", "LAST_RUN", {"execution": "run-0"})
    calls = throttled(ledger, 3)
    with pytest.raises(TransientAwsError) as e:
        ledger.get_many("recsys", ["LOCK", "LAST_RUN"])
    assert str(e.value) == "ledger recsys LOCK, LAST_RUN: keys still unprocessed after 3 attempts"
    assert calls["n"] == 3


def test_what_one_answer_read_is_kept_while_the_rest_is_asked_again(ledger: Ledger) -> None:
    ledger.acquire_lock("recsys", "run-a", 600, now=T0)
    ledger.put("recsys", "LAST_RUN", {"execution": "run-0"})
    calls = throttled(ledger, 1, partly=True)
    many = ledger.get_many("recsys", ["LOCK", "LAST_RUN"])
    assert (many["LOCK"]["owner"], many["LAST_RUN"]["execution"]) == ("run-a", "run-0")
    assert calls["n"] == 2


def test_of_many_runs_asking_at_once_exactly_one_takes_the_lock(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Truly concurrent callers (threads released together), as two controllers or a person and Detect would be."""
    atomic_dynamodb_writes(monkeypatch)
    start = threading.Barrier(16)

    def ask(i: int) -> Lock:
        start.wait()
        return ledger.acquire_lock("recsys", f"run-{i}", 600, now=T0)

    with ThreadPoolExecutor(max_workers=16) as pool:
        locks = list(pool.map(ask, range(16)))
    winners = [lock.owner for lock in locks if lock.acquired]
    assert len(winners) == 1
    assert {lock.owner for lock in locks} == set(winners), "every loser is told who holds it"
    assert (ledger.get("recsys", "LOCK") or {})["owner"] == winners[0]
