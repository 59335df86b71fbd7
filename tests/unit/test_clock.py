"""A drill's figures on AWS's clock: only the waits the world scaled are multiplied back, never the emulator's own
time (a Lambda invocation's second), and each milestone is read along the chain that led to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from failoverctl.clock import AURORA_STATES as AURORA
from failoverctl.clock import SCALE_STATES as BRANCH_SCALE
from failoverctl.clock import aws_figures, covered

T0 = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
SCALE = 120.0


def at(s: float) -> str:
    return (T0 + timedelta(seconds=s)).isoformat()


def drill_report(*, validate_s: float = 1.0, scale: float = SCALE, **seen: float) -> dict[str, Any]:
    """An ungraceful run at x120 in the drill's seconds: the quorum's gap (120 s on AWS) is 1 s, Aurora's failover
    (60 s) 0.5 s, the pre-warm's scale-up (480 s) 4 s, DNS's propagation 0.5 s; each Lambda about a second."""
    shift = validate_s - 1.0
    states = [
        ("ValidateInput", 1.5, 1.5 + validate_s),
        ("Preflight", 2.5, 3.5),
        ("PromoteAndScale", 3.5, 7.0),
        ("PromoteAurora", 3.6, 4.6),
        ("WaitForAurora", 4.6, 4.725),
        ("CheckAurora", 4.725, 5.7),
        ("SwitchDynamoDBWrites", 5.8, 6.8),
        ("DataWritable", 6.8, 6.9),
        ("ScaleUpStandby", 3.6, 4.5),
        ("StandbyReady", 4.5, 4.5),
        ("ShiftSageMakerWeights", 7.0, 8.0),
        ("FlipDns", 8.0, 9.0),
        ("CheckFullCapacity", 9.6, 10.0),
    ]
    timeline = [
        {"state": n, "entered": at(a + (shift if a > 1.5 else 0)), "exited": at(b + (shift if b > 1.5 else 0))}
        for n, a, b in states
    ]
    timings = {
        "time_scale": scale,
        "first_alarm_at": T0.isoformat(),
        "alarms": [{"alarm": "a", "at_s": 0.0}, {"alarm": "b", "at_s": 1.0}],
        "writer_seen_s": 5.1 + shift,
        "capacity_seen_s": 4.5,
        "dns_answered_s": 9.5 + shift,
    } | seen
    prewarm = {"at": T0.timestamp() + 0.5, "changed": True}
    return {"timings": timings, "timeline": timeline, "prewarm": prewarm, "traffic_waits_for_scale_up": False}


def test_only_the_scaled_waits_are_multiplied_back() -> None:
    figures = aws_figures(drill_report())
    # 120 (gap) + 2.5 (Lambdas) | Aurora branch: 60 (failover) + 2.9 (Lambdas) | 2.0 (Lambdas) + 60 (propagation)
    assert figures["traffic_s"] == pytest.approx(247.4)
    assert figures["full_capacity_s"] == pytest.approx(0.5 + 4.0 * SCALE), "Detect's request, then 480 s"
    assert figures["traffic_s"] < 9.5 * SCALE / 4, "not the drill's wall time times the scale"


def test_a_slower_lambda_costs_its_own_seconds_not_the_scales() -> None:
    slower = aws_figures(drill_report(validate_s=2.0))["traffic_s"]
    assert slower - aws_figures(drill_report())["traffic_s"] == pytest.approx(1.0)


def test_a_scale_up_traffic_did_not_wait_for_is_not_charged_to_traffic() -> None:
    """At x120 the pre-warm's 480 s take 4 s and may end inside the Parallel: an ungraceful run that moved traffic
    at the warm capacity did not wait for them."""
    fast = aws_figures(drill_report(capacity_seen_s=4.4))
    assert fast["traffic_s"] == pytest.approx(247.4)
    assert fast["full_capacity_s"] > fast["traffic_s"]


def test_a_slower_dependency_costs_its_seconds_times_the_scale() -> None:
    later = aws_figures(drill_report(writer_seen_s=5.35))["traffic_s"]  # the failover took 0.25 s more
    # 0.25 s that counted once now count 120 times: 0.25 x 119 more (figures are rounded to 0.1 s)
    assert later - aws_figures(drill_report())["traffic_s"] == pytest.approx(0.25 * (SCALE - 1), abs=0.1)


def test_a_scale_up_branch_that_waited_for_the_pre_warm_ends_no_sooner_than_it() -> None:
    """Graceful (traffic at full capacity): the scale-up branch ends after the standby reached full capacity, which
    began at the first alarm; traffic cannot come before full capacity on AWS's clock either."""
    report = drill_report(capacity_seen_s=6.5) | {"traffic_waits_for_scale_up": True}
    report["timeline"] = [t for t in report["timeline"] if t["state"] != "StandbyReady"]
    report["timeline"].append({"state": "StandbyReadyPolled", "entered": at(6.95), "exited": at(6.95)})
    figures = aws_figures(report)
    assert figures["full_capacity_s"] == pytest.approx(0.5 + 6.0 * SCALE)
    assert figures["traffic_s"] > figures["full_capacity_s"]


def test_dns_propagation_counts_at_the_scale_the_drills_alarm_periods_had() -> None:
    """At x120 a 60 s claim period lasts 1 s (whole seconds): DNS's propagation ran at x60."""
    base = aws_figures(drill_report())["traffic_s"]
    assert aws_figures(drill_report(dns_scale=60.0))["traffic_s"] == pytest.approx(base - 0.5 * 60)


def test_in_a_history_without_branch_states_the_worlds_record_of_the_promotion_is_multiplied_back() -> None:
    """ministack's history has no states of the Parallel's branches: the promotion is taken from the world's own
    record of its scaled changes, and the one poll wait after it is counted whole (the figure errs high)."""
    report = drill_report(poll_wait_s=0.125)
    report["timeline"] = [t for t in report["timeline"] if t["state"] not in AURORA | BRANCH_SCALE]
    report["scaled"] = [{"kind": "aurora", "key": "g", "timing": "aurora_failover_s", "at": T0.timestamp() + 4.6,
                         "seconds": 0.5}]  # fmt: skip
    # 122.5 before | the Parallel's 3.5 s: 0.5 (failover) + 0.125 (a poll's wait) scaled, 2.875 once | 62 after
    assert aws_figures(report)["traffic_s"] == pytest.approx(122.5 + 2.875 + 0.625 * SCALE + 62.0, abs=0.1)
    recorded = aws_figures(report)["traffic_s"]
    del report["scaled"]  # without the record: from the Parallel's start to the writer seen moving, all scaled
    assert aws_figures(report)["traffic_s"] >= recorded


def test_full_capacity_counts_from_the_scale_up_the_world_recorded() -> None:
    """The pre-warm's ledger record is written before its call: the world's own record of the scale-up says when
    it began (Detect's time until then counts once)."""
    report = drill_report()
    report["scaled"] = [{"kind": "sagemaker", "key": "us-west-2/e", "timing": "sagemaker_scale_up_s",
                         "at": T0.timestamp() + 0.7, "seconds": 3.7}]  # fmt: skip
    assert aws_figures(report)["full_capacity_s"] == pytest.approx(0.7 + (4.5 - 0.7) * SCALE, abs=0.1)


def test_without_a_time_scale_the_figures_are_the_drills_own() -> None:
    figures = aws_figures(drill_report(scale=0.0))
    assert figures == {"traffic_s": 9.5, "full_capacity_s": 4.5}


def test_a_milestone_never_seen_has_no_figure() -> None:
    report = drill_report()
    del report["timings"]["capacity_seen_s"]
    assert set(aws_figures(report)) == {"traffic_s"}


def test_overlapping_spans_are_counted_once() -> None:
    assert covered([(0, 2), (1, 3), (5, 6), (5.5, 5.7)], 0.5, 5.5) == pytest.approx(3.0)
    assert covered([(2, 1)], 0, 5) == 0
