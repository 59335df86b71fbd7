"""Property-based: whatever is thrown at Detect, the state machine's input validation and the plan loader,
the answer is a clear refusal naming the field (or a decision), never a crash, a run, or a change."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from failover_controller.errors import InputInvalid, PlanInvalid
from failover_controller.plan import parse_plan
from failover_controller.run_context import parse_start
from functions.detect.app import lambda_handler
from tests.support.detect_world import TABLE, DetectWorld, alarm_event
from tests.support.events import load_event, sample_plan_doc
from tests.support.lambda_context import FakeContext

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += paths(value, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with one to three of its fields deleted, retyped, or truncated."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        candidates = paths(doc)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent: Any = doc
        for part in path[:-1]:
            parent = parent[part]
        how = draw(st.sampled_from(["delete", "replace", "truncate"]))
        if how == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif how == "truncate" and isinstance(parent[path[-1]], str):
            parent[path[-1]] = parent[path[-1]][: draw(st.integers(0, 3))]
        else:
            parent[path[-1]] = draw(JSON)
    return doc


@pytest.fixture
def detect_world(plan_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[DetectWorld]:
    with mock_aws():
        dw = DetectWorld(plan_doc)
        for signal in ("recsys-api-canary-use1", "recsys-inference-canary-use1"):
            dw.set_alarm(signal)  # a quorum is in ALARM: only the event's validity stands between it and a run
        dw.as_deployed(monkeypatch)
        yield dw


def test_malformed_alarm_events_are_refused_or_ignored_and_start_nothing(
    detect_world: DetectWorld, caplog: pytest.LogCaptureFixture
) -> None:
    sample = alarm_event()  # sent now: a mutation that keeps it valid could start a run

    @FAST
    @given(event=mutated(sample) | JSON)
    def check(event: Any) -> None:
        if event == sample:
            return
        try:
            decision = lambda_handler(event, FakeContext())
        except InputInvalid as exc:
            assert exc.problems
            assert all(":" in problem for problem in exc.problems), exc.problems  # "field: why"
            return
        assert decision["outcome"] in {"ignored", "started"}
        if decision["outcome"] == "started":
            # Only an event that still says: this plan's alarm, in its region, went to ALARM.
            assert event["detail"]["alarmName"] == "recsys-api-canary-use1"
            assert event["detail"]["state"]["value"] == "ALARM"
            detect_world.sfn.stop_execution(executionArn=decision["execution_arn"])
            for table in [TABLE]:
                detect_world.factory.dynamodb("us-west-2").delete_item(
                    TableName=table, Key={"pk": {"S": "PLAN#recsys"}, "sk": {"S": "LOCK"}}
                )

    check()
    started = [e for e in detect_world.executions() if e["status"] != "ABORTED"]
    assert started == []


def test_oversized_events_are_refused(detect_world: DetectWorld) -> None:
    event = load_event("detect_alarm")
    event["detail"]["configuration"]["description"] = "x" * 300_000
    with pytest.raises(InputInvalid, match="larger than 262144 bytes"):
        lambda_handler(event, FakeContext())
    assert detect_world.executions() == []


def test_sensitive_fields_of_events_never_reach_the_logs(
    detect_world: DetectWorld, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "s3cr3t-token-7f1c9e"
    good = load_event("detect_alarm", state_secret=secret)
    good["detail"]["alarmName"] = "some-other-alarm"
    good["detail"]["state"]["reasonData"] = json.dumps({"apiKey": secret})
    lambda_handler(good, FakeContext())
    bad = load_event("detect_alarm")
    bad["detail"]["state"] = {"value": "PANIC", "reason": secret}
    with pytest.raises(InputInvalid):
        lambda_handler(bad, FakeContext())
    logged = capsys.readouterr().out + capsys.readouterr().err + caplog.text
    assert logged
    assert secret not in logged


@FAST
@given(start=mutated(load_event("start_failover")) | JSON)
def test_bad_manual_inputs_are_refused_naming_the_field(start: Any) -> None:
    try:
        parsed = parse_start(start)
    except InputInvalid as exc:
        assert exc.problems
        assert all(":" in p for p in exc.problems)
        return
    assert isinstance(parsed["plan"], str)
    assert isinstance(parsed["target_region"], str)


@settings(max_examples=300, deadline=None)
@given(doc=mutated(sample_plan_doc()))
def test_bad_plans_are_rejected_with_every_problem_named_never_a_crash(doc: dict[str, Any]) -> None:
    try:
        parse_plan(doc)
    except PlanInvalid as exc:
        assert exc.problems
        assert all(": " in p for p in exc.problems), exc.problems
