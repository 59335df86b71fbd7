"""CloudWatch: alarm states (Detect's signals), the newest datapoint of a metric series, and a region's traffic
claim (data-plane DNS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from failover_controller.aws import call
from failover_controller.clients import ClientFactory
from failover_controller.errors import FailoverError
from failover_controller.names import CLAIM_METRIC, CLAIM_NAMESPACE, claim_alarm_name, claim_dimensions
from failover_controller.plan import RecoveryPlan

WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class SignalState:
    value: str
    since: str | None = None  # when the alarm entered its state (ISO), when DescribeAlarms said


def alarm_states(
    plan: RecoveryPlan, factory: ClientFactory, regions: tuple[str, ...] | None = None
) -> dict[str, SignalState]:
    """Each signal's state now (of ``regions``' signals only, when given), read with DescribeAlarms in its own
    region; unreachable is UNKNOWN."""
    states: dict[str, SignalState] = {}
    by_region: dict[str, list[str]] = {}
    for signal in plan.signals:
        if regions is None or signal.region in regions:
            by_region.setdefault(signal.region, []).append(signal.name)
    for region, names in by_region.items():
        try:
            found = call(
                f"DescribeAlarms in {region}",
                factory.cloudwatch(region).describe_alarms,
                AlarmNames=names,
                AlarmTypes=["MetricAlarm", "CompositeAlarm"],
            )
        except FailoverError:
            states.update(dict.fromkeys(names, SignalState("UNKNOWN")))
            continue
        # StateTransitionedTimestamp is when the state last changed; StateUpdatedTimestamp also moves when an alarm
        # is re-evaluated into the state it is already in, which would start the recovery clock late.
        seen = {
            a["AlarmName"]: SignalState(
                a["StateValue"], _iso(a.get("StateTransitionedTimestamp") or a.get("StateUpdatedTimestamp"))
            )
            for a in found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
        }
        states.update({name: seen.get(name, SignalState("MISSING")) for name in names})
    return states


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def list_series(
    factory: ClientFactory, region: str, namespace: str, metric: str, dimensions: dict[str, str]
) -> list[dict[str, str]]:
    """The dimension sets of ``metric`` that contain ``dimensions`` and had data in the last 3 hours."""
    cw = factory.cloudwatch(region)
    kwargs: dict[str, Any] = {
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "RecentlyActive": "PT3H",
    }
    found: list[dict[str, str]] = []
    while True:
        page = call(f"CloudWatch ListMetrics {metric}", cw.list_metrics, **kwargs)
        found += [{d["Name"]: d["Value"] for d in m.get("Dimensions", [])} for m in page.get("Metrics", [])]
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def newest_maximum(
    factory: ClientFactory,
    region: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    *,
    what: str,
    period: int = 60,
) -> float | None:
    """The newest Maximum over ``period`` seconds (1: a high-resolution metric's own datapoints) of exactly this
    series (CloudWatch matches dimension sets exactly) in the last 5 minutes; None without a datapoint."""
    now = datetime.now(UTC)
    points = call(
        f"CloudWatch {metric} of {what}",
        factory.cloudwatch(region).get_metric_statistics,
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - WINDOW,
        EndTime=now + timedelta(minutes=1),
        Period=period,
        Statistics=["Maximum"],
    )["Datapoints"]
    return float(max(points, key=lambda p: p["Timestamp"])["Maximum"]) if points else None


def traffic_claim(plan: RecoveryPlan, factory: ClientFactory, region: str) -> dict[str, Any]:
    """Whether ``region``'s controller claims the plan's traffic: the newest claim datapoint of the last 5 minutes
    when there is one (it is the latest intent; the alarm follows within its period), else the alarm's state.
    ``alarm`` is MISSING when the stack's alarm does not exist there. CloudWatch keeps datapoints by the second:
    a claim withdrawn within the second it was made reads as made (and the alarm, a 10-second Maximum, follows a
    withdrawal 10 seconds late in any case)."""
    name = claim_alarm_name(plan.application)
    found = call(
        f"DescribeAlarms {name} in {region}", factory.cloudwatch(region).describe_alarms, AlarmNames=[name]
    ).get("MetricAlarms", [])
    alarm = found[0]["StateValue"] if found else "MISSING"
    newest = newest_maximum(
        factory,
        region,
        CLAIM_NAMESPACE,
        CLAIM_METRIC,
        claim_dimensions(plan.application),
        what=f"{region}'s claim",
        period=1,  # a withdrawal is a datapoint of 0 after the claim's: the newest datapoint, not the minute's maximum
    )
    claimed = newest > 0 if newest is not None else alarm == "ALARM"
    return {"alarm": alarm, "newest": newest, "claimed": claimed}
