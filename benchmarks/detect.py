"""Detect: the decision logic's cost per event without AWS calls, the AWS calls per event by path, and events per
second through the whole handler against an emulated AWS (moto, in-process)."""

from __future__ import annotations

import json
import os
import time
import timeit
from typing import Any

os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-west-2",
    AWS_REGION="us-west-2",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="bench",
)

from moto import mock_aws

from benchmarks.common import ROOT, median
from failover_controller.config import DetectConfig
from failover_controller.detect import execution_name, parse_alarm_event
from failover_controller.ledger import Ledger
from tests.support.detect_world import TABLE, DetectWorld, alarm_event

EVENT = json.loads((ROOT / "events" / "detect_alarm.json").read_text())


def pure_decision_us(repeat: int = 7, number: int = 2000) -> float:
    """Parse and validate the event, map it to the plan's signal, name the execution: no AWS call."""
    plan_doc = json.loads((ROOT / "plans" / "recsys.json").read_text())
    signals = {(a["name"], a["region"]) for a in plan_doc["signals"]["alarms"]}

    def decide() -> Any:
        change = parse_alarm_event(EVENT)
        return (change.alarm_name, change.region) in signals and execution_name("recsys", change)

    runs = timeit.repeat(decide, repeat=repeat, number=number)
    return median([r / number * 1e6 for r in runs])


def calls_by_path() -> dict[str, int]:
    """AWS calls one event costs, counted on the wire, with the plan cached as deployed."""
    out: dict[str, int] = {}
    with mock_aws():
        dw = DetectWorld(plan_doc=json.loads((ROOT / "plans" / "recsys.json").read_text()))
        dw.config = DetectConfig(**{**dw.config.__dict__, "plan_cache_seconds": 300})
        dw.decide(alarm_event(state="OK"))  # warm the plan cache and the clients
        dw.decide(alarm_event("no-such-alarm"))
        calls: list[str] = []
        for client in [
            dw.factory.ssm("us-west-2"),
            dw.factory.dynamodb("us-west-2"),
            dw.factory.cloudwatch("us-west-2"),
            dw.factory.cloudwatch("us-east-1"),
            dw.factory.client("stepfunctions", "us-west-2"),
            dw.factory.sagemaker("us-west-2"),
            dw.factory.client("application-autoscaling", "us-west-2"),
        ]:
            client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))

        def count(event: dict[str, Any]) -> int:
            calls.clear()
            dw.decide(event)
            return len(calls)

        out["transition to OK (ignored)"] = count(alarm_event(state="OK"))
        out["an alarm no plan names (ignored)"] = count(alarm_event("no-such-alarm"))
        # CloudWatch reads the alarm as the event says (an event CloudWatch contradicts starts nothing).
        dw.set_alarm("recsys-api-canary-use1")
        out["quorum not met, first suspicion: pre-warms the standby"] = count(alarm_event(id="q"))
        out["quorum not met, already pre-warming (ignored)"] = count(alarm_event(id="q2"))
        dw.set_alarm("recsys-inference-canary-use1")
        out["quorum met: starts the run"] = count(alarm_event(id="start"))
        out["storm: a run holds the lock (ignored)"] = count(alarm_event(id="storm"))
        Ledger(TABLE, "us-west-2", dw.factory).release_lock("recsys", dw.executions()[0]["name"])
        Ledger(TABLE, "us-west-2", dw.factory).put("recsys", "LAST_RUN", {"finished_at": int(time.time())})
        out["cooldown (ignored)"] = count(alarm_event(id="cool"))
    return out


def handler_throughput(events: int = 400) -> dict[str, float]:
    """Events per second through the whole decide() path on moto: the storm path (lock held)."""
    with mock_aws():
        dw = DetectWorld(plan_doc=json.loads((ROOT / "plans" / "recsys.json").read_text()))
        dw.config = DetectConfig(**{**dw.config.__dict__, "plan_cache_seconds": 300})
        dw.set_alarm("recsys-api-canary-use1")
        dw.set_alarm("recsys-inference-canary-use1")
        dw.decide(alarm_event(id="first"))
        start = time.perf_counter()
        for i in range(events):
            dw.decide(alarm_event(id=f"storm-{i}"))
        storm = events / (time.perf_counter() - start)
    return {"storm_events_per_s": round(storm, 1)}


def run() -> dict[str, Any]:
    return {
        "pure_decision_us_median": round(pure_decision_us(), 1),
        "aws_calls_per_event": calls_by_path(),
        **handler_throughput(),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
