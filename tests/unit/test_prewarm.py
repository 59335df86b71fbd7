"""Pre-warm on suspicion, on moto: the first alarm starts the standby's endpoints toward active capacity; the sweep
takes them back when no failover followed, and never when one did. Asserted on the endpoints and the ledger."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover_controller.ledger import Ledger
from failover_controller.prewarm import SK, SWEEP, start, sweep
from failoverctl.drill import world
from functions.detect.app import lambda_handler
from tests.support import aws_like
from tests.support.detect_world import TABLE, DetectWorld, alarm_event
from tests.support.events import two_variants
from tests.support.lambda_context import FakeContext
from tests.support.moto_atomic import atomic_dynamodb_writes

STANDBY, PRIMARY = "us-west-2", "us-east-1"


@pytest.fixture
def dw(plan_doc: dict[str, Any]) -> Iterator[DetectWorld]:
    with mock_aws():
        yield DetectWorld(plan_doc)


def counts(dw: DetectWorld, region: str) -> dict[str, tuple[float, int]]:
    return world.endpoint_config(dw.plan, dw.factory, region)


def ledger(dw: DetectWorld) -> Ledger:
    return Ledger(TABLE, STANDBY, dw.factory)


def suspect(dw: DetectWorld, now: float = 1_000_000.0, event_id: str = "a") -> Any:
    dw.set_alarm("recsys-api-canary-use1")
    return dw.decide(alarm_event(id=event_id, at=now), now=now)


def test_the_first_alarm_starts_the_standby_toward_active_capacity_and_records_it(dw: DetectWorld) -> None:
    decision = suspect(dw)
    assert decision.outcome == "ignored"
    assert "pre-warm: the standby's endpoints started toward active capacity" in decision.reason
    assert counts(dw, STANDBY) == {"ranker": (1.0, 4)}
    assert counts(dw, PRIMARY) == {"ranker": (1.0, 4)}, "the primary is not the pre-warm's"
    item = ledger(dw).get("recsys", SK)
    assert item is not None
    assert (item["at"], item["until"], item["changed"]) == (1_000_000, 1_001_800, True)
    assert item["counts"] == {"recsys-ranker-usw2": {"ranker": 1}}
    assert dw.executions() == [], "a suspicion starts no run"


def test_an_alarm_storm_prewarms_once(dw: DetectWorld) -> None:
    suspect(dw)
    again = suspect(dw, now=1_000_060.0, event_id="b")
    assert "pre-warm" not in again.reason, again.reason
    assert (ledger(dw).get("recsys", SK) or {}).get("at") == 1_000_000


def test_no_prewarm_once_writes_go_to_the_standby(dw: DetectWorld) -> None:
    boto3.client("ssm", region_name=STANDBY).put_parameter(
        Name=dw.plan.write_region_parameter, Value=STANDBY, Type="String", Overwrite=True
    )
    suspect(dw)
    assert counts(dw, STANDBY) == {"ranker": (1.0, 1)}
    assert ledger(dw).get("recsys", SK) is None


def test_a_plan_without_prewarm_leaves_the_standby_alone(plan_doc: dict[str, Any]) -> None:
    del plan_doc["sagemaker"]["prewarm_seconds"]
    with mock_aws():
        dw = DetectWorld(plan_doc)
        assert "pre-warm" not in suspect(dw).reason
        assert counts(dw, STANDBY) == {"ranker": (1.0, 1)}
        assert ledger(dw).get("recsys", SK) is None


def test_the_sweep_waits_then_scales_a_false_alarm_back_and_records_its_cost(dw: DetectWorld) -> None:
    suspect(dw)
    assert sweep(dw.config, dw.factory, now=1_001_799.0)["recsys"].startswith("warm until 1001800")
    assert counts(dw, STANDBY) == {"ranker": (1.0, 4)}
    said = sweep(dw.config, dw.factory, now=1_001_800.0)["recsys"]
    assert said == "false alarm: the standby is back at the counts it had; 1.5 extra instance-hours"
    assert counts(dw, STANDBY) == {"ranker": (1.0, 1)}
    assert ledger(dw).get("recsys", SK) is None
    ended = ledger(dw).items("recsys", f"{SK}#")
    assert [(e["ended_at"], e["extra_instance_hours"]) for e in ended] == [(1_001_800, 1.5)]
    assert sweep(dw.config, dw.factory, now=1_002_000.0)["recsys"] == "nothing pre-warmed"


def test_the_sweep_never_scales_back_a_standby_a_run_took_over(dw: DetectWorld) -> None:
    suspect(dw)
    ledger(dw).put("recsys", "LOCK", {"owner": "run-1", "expires_at": 1_010_000})
    assert "holds the lock" in sweep(dw.config, dw.factory, now=1_002_000.0)["recsys"]
    ledger(dw).delete("recsys", "LOCK")
    ledger(dw).put("recsys", "LAST_RUN", {"execution": "run-1", "outcome": "succeeded", "finished_at": 1_000_500})
    said = sweep(dw.config, dw.factory, now=1_002_000.0)["recsys"]
    assert said.startswith("taken over by run run-1 (succeeded)")
    assert counts(dw, STANDBY) == {"ranker": (1.0, 4)}
    assert ledger(dw).get("recsys", SK) is None


def test_the_sweep_never_scales_back_once_writes_go_to_the_standby(dw: DetectWorld) -> None:
    suspect(dw)
    boto3.client("ssm", region_name=STANDBY).put_parameter(
        Name=dw.plan.write_region_parameter, Value=STANDBY, Type="String", Overwrite=True
    )
    assert sweep(dw.config, dw.factory, now=1_002_000.0)["recsys"].startswith("writes go to us-west-2")
    assert counts(dw, STANDBY) == {"ranker": (1.0, 4)}


def test_detects_schedule_runs_the_sweep(dw: DetectWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    dw.as_deployed(monkeypatch)
    assert lambda_handler(SWEEP, FakeContext()) == {"outcome": "swept", "plans": {"recsys": "nothing pre-warmed"}}


def test_a_prewarm_that_fails_is_recorded_and_detection_goes_on(dw: DetectWorld) -> None:
    boto3.client("sagemaker", region_name=STANDBY).delete_endpoint(EndpointName="recsys-ranker-usw2")
    decision = suspect(dw)
    assert decision.outcome == "ignored"
    assert decision.reason.startswith("quorum not met: 1 of 3 in ALARM")
    assert "; pre-warm of the standby failed, detection goes on: " in decision.reason
    assert "recsys-ranker-usw2" in decision.reason
    item = ledger(dw).get("recsys", SK) or {}
    assert item["counts"] == {}
    assert "recsys-ranker-usw2" in item["error"]
    dw.set_alarm("recsys-inference-canary-use1")
    assert dw.decide(alarm_event(id="b", at=1_000_030.0), now=1_000_030.0).outcome == "started", (
        "the quorum still starts the run"
    )


def test_a_prewarm_of_several_variants_sends_each_variants_capacity_in_turn(plan_doc: dict[str, Any]) -> None:
    """UpdateEndpointWeightsAndCapacities changes one variant's capacity per call: the alarm sends the first, and
    each sweep while the standby is warm sends the next."""
    with mock_aws():
        dw = DetectWorld(two_variants(plan_doc), aws_like_hooks=aws_like.one_variant_capacity_per_call)
        assert "pre-warm: the standby's endpoints started" in suspect(dw).reason
        assert counts(dw, STANDBY) == {"ranker": (0.75, 4), "reranker": (0.25, 1)}
        warming = sweep(dw.config, dw.factory, now=1_000_300.0)["recsys"]
        assert warming.startswith("warm until 1001800 (epoch s) unless a failover follows; "), warming
        assert counts(dw, STANDBY) == {"ranker": (0.75, 4), "reranker": (0.25, 3)}
        assert sweep(dw.config, dw.factory, now=1_000_600.0)["recsys"] == (
            "warm until 1001800 (epoch s) unless a failover follows"
        ), "nothing more to send"
        item = ledger(dw).get("recsys", SK) or {}
        assert item["counts"] == {"recsys-ranker-usw2": {"ranker": 1, "reranker": 1}}, "what to go back to"
        back = sweep(dw.config, dw.factory, now=1_001_800.0)["recsys"]
        assert back.startswith("false alarm: scaling the standby back"), back


def test_suspicions_arriving_at_once_prewarm_once(plan_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Several of the plan's alarms' first events, delivered together (the quorum not met by any of them): one
    pre-warm, one scale-up sent, one ledger record."""
    atomic_dynamodb_writes(monkeypatch)
    plan_doc["signals"]["quorum"] = 3
    sent: list[str] = []
    with mock_aws():
        dw = DetectWorld(
            plan_doc,
            aws_like_hooks=lambda s: s.events.register(
                "before-call.sagemaker.UpdateEndpointWeightsAndCapacities", lambda **_: sent.append("update")
            ),
        )
        dw.set_alarm("recsys-api-canary-use1")
        dw.set_alarm("recsys-inference-canary-use1")
        start = threading.Barrier(8)
        now = float(int(time.time()))

        def deliver(i: int) -> Any:
            name = "recsys-api-canary-use1" if i % 2 else "recsys-inference-canary-use1"
            event = alarm_event(name, id=f"event-{i}", at=now)
            start.wait()
            return dw.decide(event, now=now)

        with ThreadPoolExecutor(max_workers=8) as pool:
            decisions = list(pool.map(deliver, range(8)))
        assert [d.outcome for d in decisions] == ["ignored"] * 8
        assert sum("pre-warm: the standby's endpoints started" in d.reason for d in decisions) == 1
        assert sent == ["update"], "one scale-up sent"
        assert counts(dw, STANDBY) == {"ranker": (1.0, 4)}


# What a pre-warm records, and each way a sweep ends it.


def test_a_prewarm_records_what_it_found_to_the_millisecond(dw: DetectWorld) -> None:
    dw.set_alarm("recsys-api-canary-use1")
    now = 1_000_000.12345
    dw.decide(alarm_event(id="a", at=now), now=now)
    assert ledger(dw).get("recsys", SK) == {
        "pk": "PLAN#recsys",
        "sk": SK,
        "at": 1_000_000,
        "at_s": 1_000_000.123,
        "until": 1_001_800,
        "alarm": "recsys-api-canary-use1",
        "status": "warming",
        "counts": {"recsys-ranker-usw2": {"ranker": 1}},
        "changed": True,
    }
    raced = start(dw.plan, "recsys-inference-canary-use1", STANDBY, factory=dw.factory, ledger=ledger(dw), now=now)
    assert raced == "; the standby is already warming", "a Detect that lost the race to record it changes nothing"


def test_a_standby_at_active_capacity_is_recorded_unchanged_and_retired_at_no_cost(dw: DetectWorld) -> None:
    boto3.client("sagemaker", region_name=STANDBY).update_endpoint_weights_and_capacities(
        EndpointName="recsys-ranker-usw2",
        DesiredWeightsAndCapacities=[{"VariantName": "ranker", "DesiredInstanceCount": 4}],
    )
    decision = suspect(dw)
    assert decision.reason.endswith("; the standby's endpoints are at active capacity already"), decision.reason
    assert (ledger(dw).get("recsys", SK) or {})["changed"] is False
    said = sweep(dw.config, dw.factory, now=1_020_000.0)["recsys"]
    assert said == "false alarm: the pre-warm had changed nothing; 0.0 extra instance-hours"
    (ended,) = ledger(dw).items("recsys", f"{SK}#")
    assert (ended["sk"], ended["ended"], ended["ended_at"], ended["extra_instance_hours"]) == (
        f"{SK}#1000000",
        "false alarm: the pre-warm had changed nothing",
        1_020_000,
        0.0,
    )
    assert counts(dw, STANDBY) == {"ranker": (1.0, 4)}, "nothing to scale back"


def test_a_long_false_alarm_costs_its_extra_instance_hours(dw: DetectWorld) -> None:
    suspect(dw)
    said = sweep(dw.config, dw.factory, now=1_020_000.0)["recsys"]
    assert said == "false alarm: the standby is back at the counts it had; 16.667 extra instance-hours", said


def test_no_prewarm_record_no_suffix_once_writes_go_to_the_standby(dw: DetectWorld) -> None:
    boto3.client("ssm", region_name=STANDBY).put_parameter(
        Name=dw.plan.write_region_parameter, Value=STANDBY, Type="String", Overwrite=True
    )
    decision = suspect(dw)
    assert decision.reason.endswith("recsys-inference-canary-use1=OK)"), decision.reason


@pytest.mark.parametrize(
    ("held", "said"),
    [
        ({"LOCK": {"owner": "run-1", "expires_at": 1_002_000}}, "run run-1 holds the lock: the standby's capacity"),
        ({"LOCK": {"owner": "run-1"}}, "false alarm: the standby is back"),
        (
            {"LAST_RUN": {"execution": "run-1", "outcome": "failed", "finished_at": 1_000_000}},
            "taken over by run run-1",
        ),
        ({"LAST_RUN": {"execution": "run-1", "outcome": "failed"}}, "false alarm: the standby is back"),
        ({"LAST_RUN": {"execution": "run-0", "outcome": "failed", "finished_at": 999_999}}, "false alarm: the standby"),
    ],
)
def test_the_sweep_judges_a_lock_and_a_last_run_at_their_boundaries(
    dw: DetectWorld, held: dict[str, dict[str, Any]], said: str
) -> None:
    """A lock expiring now still holds; a run finished when the pre-warm began took it over; without their
    times, neither counts."""
    suspect(dw)
    for sk, values in held.items():
        ledger(dw).put("recsys", sk, values)
    assert sweep(dw.config, dw.factory, now=1_002_000.0)["recsys"].startswith(said)


def test_the_sweep_keeps_warming_a_standby_the_first_alarm_could_not_change(dw: DetectWorld) -> None:
    """A pre-warm recorded unchanged (the endpoint was busy, say) is warmed by the sweep, and then counts as one
    that changed something: the sweep will scale it back."""
    ledger(dw).put(
        "recsys",
        SK,
        {"at": 1_000_000, "until": 1_001_800, "alarm": "a", "status": "warming", "counts": {}, "changed": False},
    )
    said = sweep(dw.config, dw.factory, now=1_000_300.0)["recsys"]
    assert said.startswith(
        "warm until 1001800 (epoch s) unless a failover follows; recsys-ranker-usw2 in us-west-2 updating"
    )
    assert counts(dw, STANDBY) == {"ranker": (1.0, 4)}
    assert ledger(dw).get("recsys", SK) == {
        "pk": "PLAN#recsys",
        "sk": SK,
        "at": 1_000_000,
        "until": 1_001_800,
        "alarm": "a",
        "status": "warming",
        "counts": {},
        "changed": True,
    }
    back = sweep(dw.config, dw.factory, now=1_001_800.0)["recsys"]
    assert back.startswith("false alarm: the standby is back at the counts it had"), back
    assert counts(dw, STANDBY) == {"ranker": (1.0, 1)}, "no counts recorded: the plan's standby count"


def test_warming_further_that_fails_is_said_and_the_sweep_goes_on(dw: DetectWorld) -> None:
    suspect(dw)
    boto3.client("sagemaker", region_name=STANDBY).delete_endpoint(EndpointName="recsys-ranker-usw2")
    said = sweep(dw.config, dw.factory, now=1_000_300.0)["recsys"]
    assert said.startswith("warm until 1001800 (epoch s) unless a failover follows; warming further failed: ")
    assert "recsys-ranker-usw2" in said


def test_an_autoscaled_standby_gets_its_minimum_back_with_its_count(plan_doc: dict[str, Any]) -> None:
    with mock_aws():
        dw = DetectWorld(plan_doc)
        world.autoscale_standby(dw.plan, dw.factory)
        suspect(dw)
        aas = dw.factory.client("application-autoscaling", STANDBY)

        def minimum() -> int:
            (target,) = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
            return int(target["MinCapacity"])

        assert minimum() == 4, "raised with the pre-warm, so autoscaling keeps the capacity"
        sweep(dw.config, dw.factory, now=1_001_800.0)
        assert (minimum(), counts(dw, STANDBY)) == (1, {"ranker": (1.0, 1)})


def test_the_sweep_on_its_schedule_reads_the_clock(dw: DetectWorld) -> None:
    now = float(int(time.time()))
    suspect(dw, now=now)
    assert sweep(dw.config, dw.factory)["recsys"].startswith(f"warm until {int(now) + 1800} (epoch s)")
