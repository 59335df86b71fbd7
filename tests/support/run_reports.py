"""Run reports as the drill writes them, made up to the second: the states, the alarms, what the world showed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(s: float) -> str:
    return (T0 + timedelta(seconds=s)).isoformat()


def drill_report(*, prewarm: bool = True, capacity_s: float = 50.0, writer_s: float = 25.0) -> dict[str, Any]:
    """A graceful run (time x10): alarms at 0 and 12 s, the run from 13 s, the Parallel from 16 s (DynamoDB writes
    switched in its first branch, right after the writer moved; the scale-up's branch until full capacity), DNS
    answering, then the full-capacity check."""
    states: list[tuple[str, float, float]] = [
        ("ValidateInput", 13.0, 14.0),
        ("Preflight", 14.0, 16.0),
        ("PromoteAndScale", 16.0, max(capacity_s, writer_s + 1) + 1),  # no branch states: ministack's history
    ]
    t = states[-1][2]
    states += [("ShiftSageMakerWeights", t, t + 0.1)]
    states += [("FlipDns", t + 0.1, t + 1), ("WaitForDns", t + 1, t + 4), ("CheckDns", t + 4, t + 4.5)]
    states += [("CheckFullCapacity", t + 4.5, t + 5), ("IsFullCapacity", t + 5, t + 5)]
    states += [("Verify", t + 5, t + 5.5), ("RecordSucceeded", t + 5.5, t + 6.5)]
    return {
        "plan": "recsys",
        "scenario": "ungraceful",
        "outcome": "succeeded",
        "passed": True,
        "time_scale": 10.0,
        "timeline": [{"state": n, "entered": at(a), "exited": at(b)} for n, a, b in states],
        "timings": {
            "first_alarm_at": at(0),
            "alarms": [{"alarm": "recsys-api-canary-use1", "at_s": 0.0}, {"alarm": "recsys-inference", "at_s": 12.0}],
            "started_s": 13.0,
            "writer_seen_s": writer_s,
            "capacity_seen_s": capacity_s,
            "dns_answered_s": t + 4.2,
            "time_scale": 10.0,
            "traffic_s": 312.4,
            "full_capacity_s": 498.6,
            "clients_follow_s": 372.4,
            "rto_target_s": 900,
            "traffic_waits_for_scale_up": True,  # graceful: traffic at full capacity
        },
        "prewarm": {"at": T0.timestamp() + 0.5, "changed": True} if prewarm else None,
        "ledger": {"rto_target_s": 900, "rpo_exposure_ms": 120, "rpo_target_ms": 60000, "outcome": "succeeded"},
        "world_before": {"aurora_writer": "us-east-1"},
        "world_after": {"aurora_writer": "us-west-2"},
        "verification": [{"check": "aurora_writer", "expected": "us-west-2", "observed": "us-west-2", "ok": True}],
    }
