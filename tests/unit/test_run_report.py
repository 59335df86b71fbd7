"""The run's picture (failoverctl.report), on made-up runs."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

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
        "ShiftSageMakerWeights",
        "FlipDns (until DNS answers)",
    ]
    assert (path[0]["start_s"], path[0]["end_s"]) == (0.5, 50.0)
    assert path[-1]["end_s"] == 51.0 + 4.2  # DNS answered, not the last poll


def test_without_a_prewarm_detection_and_the_longer_branch_are_on_the_path() -> None:
    path = report.critical_path(drill_report(prewarm=False, capacity_s=50.0, writer_s=25.0))
    assert names(path)[:6] == [
        "Detection: first alarm to the run",
        "ValidateInput",
        "Preflight",
        f"PromoteAndScale ({report.SCALE_BAR})",
        report.SCALE_BAR,
        "ShiftSageMakerWeights",
    ]
    aurora_last = report.critical_path(drill_report(prewarm=True, capacity_s=20.0, writer_s=40.0))
    assert f"PromoteAndScale ({report.DATA_BAR})" in names(aurora_last), "a pre-warm that finished first is off it"


def test_a_scale_up_that_ended_after_the_parallel_did_not_hold_traffic() -> None:
    """Ungraceful at the warm capacity: the Parallel ended with the database writable; the standby reached full
    capacity later (ministack's history has no branch states: the world's timings place the branches)."""
    run = drill_report(prewarm=True, capacity_s=20.0, writer_s=25.0)
    run["timings"]["capacity_seen_s"] = 90.0
    assert f"PromoteAndScale ({report.DATA_BAR})" in names(report.critical_path(run))
    assert report.PREWARM_BAR not in names(report.critical_path(run))


def test_the_page_is_self_contained_and_marks_the_critical_path() -> None:
    page = report.render(drill_report())
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    assert re.findall(r"(?:src|href)=", page) == [], "nothing to fetch"
    assert [u for u in re.findall(r"https?://[^\"' ]+", page) if u != "http://www.w3.org/2000/svg"] == []
    critical = re.findall(r'<g class="bar critical" data-state="([^"]+)"', page)
    assert critical == ["Pre-warm: standby scale-up", "PromoteAndScale", "ShiftSageMakerWeights", "FlipDns"]
    assert "312 s of 900 s (AWS&#x27;s clock)" in page, "time to traffic, as the drill measured it on AWS's clock"
    assert "499 s of 900 s (AWS&#x27;s clock)" in page, "time to full capacity"
    assert "by 372 s" in page, "clients behind caching resolvers: one TTL later"
    assert "drill s (waits /10)" in page, "the timeline is drawn in the drill's own seconds, not multiplied"
    assert "0 s on AWS's clock, 0.1 drill s" in page, "each span of the path: on AWS's clock, and as drawn"


def test_a_run_serving_at_reduced_capacity_says_so() -> None:
    run = drill_report() | {"outcome": "reduced_capacity"}
    del run["timings"]["full_capacity_s"]
    page = report.render(run)
    assert "not reached: serving at reduced capacity" in page


def test_a_drill_without_time_scaling_says_its_figures_are_not_estimates() -> None:
    run = drill_report()
    run["time_scale"] = run["timings"]["time_scale"] = 0.0
    assert "(drill time, not an estimate)" in report.render(run)


def test_a_real_runs_page_takes_both_figures_from_its_ledger_entry() -> None:
    run = drill_report()
    run.pop("time_scale")
    run["timings"] = {"first_alarm_at": run["timings"]["first_alarm_at"]}
    run["ledger"] |= {"traffic_s": 251.0, "full_capacity_s": 505.0}
    page = report.render(run)
    assert "251 s of 900 s<" in page
    assert "505 s of 900 s<" in page


def test_a_real_runs_history_draws_the_branches_from_their_own_states() -> None:
    """AWS's history has the Parallel's branch states (ministack's does not): from_aws's timeline groups them."""

    def event(kind: str, name: str, s: float) -> dict[str, object]:
        key = "stateEnteredEventDetails" if kind == "in" else "stateExitedEventDetails"
        return {key: {"name": name}, "timestamp": T0 + timedelta(seconds=s)}

    steps = [("ValidateInput", 1, 2), ("Preflight", 2, 4), ("PromoteAndScale", 4, 500)]
    steps += [("PromoteAurora", 4, 5), ("WaitForAurora", 5, 60), ("CheckAurora", 60, 61), ("AuroraPromoted", 61, 61)]
    steps += [("SwitchDynamoDBWrites", 61, 62)]
    steps += [("ScaleUpStandby", 4, 5), ("WaitForSageMaker", 5, 495), ("CheckSageMaker", 495, 496)]
    steps += [("ShiftSageMakerWeights", 501, 502), ("FlipDns", 502, 503)]
    steps += [("WaitForDns", 503, 540), ("CheckDns", 540, 541), ("Verify", 541, 542)]
    history = [e for name, a, b in steps for e in (event("in", name, a), event("out", name, b))]
    timeline = timeline_of(sorted(history, key=lambda e: e["timestamp"]))
    run = {"timeline": timeline, "timings": {"first_alarm_at": T0.isoformat()}, "prewarm": None}
    spans = {b["name"]: (b["start_s"], b["end_s"]) for b in report.bars(run)}
    assert spans[report.DATA_BAR] == (4.0, 62.0)
    assert spans[report.SCALE_BAR] == (4.0, 496.0)
    assert spans["FlipDns"] == (502.0, 541.0)
    assert names(report.critical_path(run))[3:5] == [f"PromoteAndScale ({report.SCALE_BAR})", report.SCALE_BAR]


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
