"""The run's picture (failoverctl.report) and the benchmark's sequential state machine, on made-up runs."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from benchmarks.rto import sequential_definition
from failoverctl import report
from failoverctl.follow import timeline_of
from tests.support.events import ROOT
from tests.support.run_reports import T0, drill_report

ASL = json.loads((ROOT / "statemachines" / "failover.asl.json").read_text(encoding="utf-8"))


def names(path: list[dict[str, object]]) -> list[str]:
    return [report.span_label(p) for p in path]


def test_a_prewarmed_standby_that_came_up_last_is_the_critical_path_from_the_first_alarm() -> None:
    path = report.critical_path(drill_report(prewarm=True, capacity_s=50.0, writer_s=25.0))
    assert names(path) == [
        "Pre-warm: standby scale-up",
        "PromoteAndScale (the pre-warmed standby, polled)",
        "SwitchDynamoDBWrites",
        "ShiftSageMakerWeights",
        "FlipDns (until DNS answers)",
    ]
    assert (path[0]["start_s"], path[0]["end_s"]) == (0.5, 50.0)
    assert path[-1]["end_s"] == 51.0 + 1.1 + 5.2 - 1.1  # DNS answered, not the last poll


def test_without_a_prewarm_detection_and_the_longer_branch_are_on_the_path() -> None:
    path = report.critical_path(drill_report(prewarm=False, capacity_s=50.0, writer_s=25.0))
    assert names(path)[:6] == [
        "Detection: first alarm to the run",
        "ValidateInput",
        "Preflight",
        "PromoteAndScale (SageMaker scale-up)",
        "SageMaker scale-up",
        "SwitchDynamoDBWrites",
    ]
    aurora_last = report.critical_path(drill_report(prewarm=True, capacity_s=20.0, writer_s=40.0))
    assert "PromoteAndScale (Aurora promotion)" in names(aurora_last), "a pre-warm that finished first is off the path"


def test_the_page_is_self_contained_and_marks_the_critical_path() -> None:
    page = report.render(drill_report())
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    assert re.findall(r"(?:src|href)=", page) == [], "nothing to fetch"
    assert [u for u in re.findall(r"https?://[^\"' ]+", page) if u != "http://www.w3.org/2000/svg"] == []
    critical = re.findall(r'<g class="bar critical" data-state="([^"]+)"', page)
    assert critical == [
        "Pre-warm: standby scale-up",
        "PromoteAndScale",
        "SwitchDynamoDBWrites",
        "ShiftSageMakerWeights",
        "FlipDns",
    ]
    assert "562 s of 900 s" in page, "the RTO: DNS answering 56.2 s of drill time after the first alarm, at x10"


def test_the_sequential_variant_runs_the_parallels_branches_one_after_another() -> None:
    seq = sequential_definition(ASL)
    states = seq["States"]
    assert "PromoteAndScale" not in states
    assert not any(s["Type"] == "Parallel" for s in states.values())
    assert states["IsApprovalRequired"]["Default"] == "PromoteAurora"
    assert states["WaitForApproval"]["Next"] == "PromoteAurora"
    assert states["AuroraPromoted"] == {"Type": "Pass", "Next": "ScaleUpStandby"}
    assert states["StandbyScaled"]["Next"] == "PromoteAndScaleJoined"
    joined = states["PromoteAndScaleJoined"]
    assert joined["Parameters"] == {"promote_aurora.$": "$.promote", "scale_up_standby.$": "$.scale"}
    assert (joined["ResultPath"], joined["Next"]) == ("$.results.promote_and_scale", "DidTheStandbyScale")
    assert "StandbyNotScaled" not in states, "a branch's own catch has no other branch to keep going"
    assert states["PromoteAurora"]["Catch"] == ASL["States"]["PromoteAndScale"]["Catch"]
    reachable, todo = set(), [seq["StartAt"]]
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        reachable.add(name)
        state = states[name]
        todo += [state[k] for k in ("Next", "Default") if k in state]
        todo += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
    assert reachable == set(states), "every state is reachable and every Next names a state"


def test_a_real_runs_history_draws_the_branches_from_their_own_states() -> None:
    """AWS's history has the Parallel's branch states (ministack's does not): from_aws's timeline groups them."""

    def event(kind: str, name: str, s: float) -> dict[str, object]:
        key = "stateEnteredEventDetails" if kind == "in" else "stateExitedEventDetails"
        return {key: {"name": name}, "timestamp": T0 + timedelta(seconds=s)}

    steps = [("ValidateInput", 1, 2), ("Preflight", 2, 4), ("PromoteAndScale", 4, 500)]
    steps += [("PromoteAurora", 4, 5), ("WaitForAurora", 5, 60), ("CheckAurora", 60, 61), ("AuroraPromoted", 61, 61)]
    steps += [("ScaleUpStandby", 4, 5), ("WaitForSageMaker", 5, 495), ("CheckSageMaker", 495, 496)]
    steps += [("SwitchDynamoDBWrites", 500, 501), ("ShiftSageMakerWeights", 501, 502), ("FlipDns", 502, 503)]
    steps += [("WaitForDns", 503, 540), ("CheckDns", 540, 541), ("Verify", 541, 542)]
    history = [e for name, a, b in steps for e in (event("in", name, a), event("out", name, b))]
    timeline = timeline_of(sorted(history, key=lambda e: e["timestamp"]))
    run = {"timeline": timeline, "timings": {"first_alarm_at": T0.isoformat()}, "prewarm": None}
    spans = {b["name"]: (b["start_s"], b["end_s"]) for b in report.bars(run)}
    assert spans["Aurora promotion"] == (4.0, 61.0)
    assert spans["SageMaker scale-up"] == (4.0, 496.0)
    assert spans["FlipDns"] == (502.0, 541.0)
    assert names(report.critical_path(run))[3:5] == ["PromoteAndScale (SageMaker scale-up)", "SageMaker scale-up"]


def test_a_retried_task_lists_the_errors_of_its_failed_attempts_in_its_own_state() -> None:
    """AWS chains each event to the one before it in its branch: a failure is put in its own state even when another
    branch entered a state since."""

    def at(s: float) -> datetime:
        return T0 + timedelta(seconds=s)

    history: list[dict[str, Any]] = [
        {"id": 1, "stateEnteredEventDetails": {"name": "PromoteAurora"}, "timestamp": at(0)},
        {"id": 2, "previousEventId": 1, "type": "TaskScheduled", "timestamp": at(0)},
        {"id": 3, "stateEnteredEventDetails": {"name": "ScaleUpStandby"}, "timestamp": at(0)},
        {"id": 4, "previousEventId": 2, "taskFailedEventDetails": {"error": "TransientAwsError"}, "timestamp": at(1)},
        {"id": 5, "previousEventId": 3, "stateExitedEventDetails": {"name": "ScaleUpStandby"}, "timestamp": at(2)},
        {"id": 6, "previousEventId": 4, "type": "TaskScheduled", "timestamp": at(3)},
        {"id": 7, "previousEventId": 6, "stateExitedEventDetails": {"name": "PromoteAurora"}, "timestamp": at(4)},
    ]
    timeline = {t["state"]: t for t in timeline_of(history)}
    assert timeline["PromoteAurora"]["errors"] == ["TransientAwsError"]
    assert "errors" not in timeline["ScaleUpStandby"]
    # ministack's history has no chain: the failure belongs to the state entered last.
    flat = [{k: v for k, v in e.items() if k not in ("id", "previousEventId")} for e in history]
    assert {t["state"]: t.get("errors") for t in timeline_of(flat)} == {
        "ScaleUpStandby": ["TransientAwsError"],
        "PromoteAurora": None,
    }
