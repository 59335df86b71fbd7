"""CloudWatch: alarm states (Detect's signals), the newest datapoint of a metric series, and a region's traffic
claim (data-plane DNS)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from failover_controller.aws import call
from failover_controller.clients import ClientFactory
from failover_controller.errors import FailoverError
from failover_controller.names import claim_alarm_name
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
    """The newest Maximum over ``period`` seconds of exactly this
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


# Route 53 follows a CLOUDWATCH_METRIC health check only on an alarm of a standard-resolution metric, with one of
# these statistics (Route 53 API reference, AlarmIdentifier): a period under 60 s needs a high-resolution metric.
ROUTE53_STATISTICS = ("Average", "Minimum", "Maximum", "Sum", "SampleCount")


def route53_cannot_follow(alarm: Mapping[str, Any]) -> list[str]:
    """Why Route 53's health checks cannot follow ``alarm`` (a DescribeAlarms MetricAlarm); empty when they can."""
    problems = []
    period = int(alarm.get("Period") or 0)
    if period < 60 or period % 60:
        problems.append(f"its period is {period} s: Route 53 follows standard-resolution alarms only (60 s or more)")
    if alarm.get("ExtendedStatistic"):
        problems.append(f"its statistic {alarm['ExtendedStatistic']} is extended: Route 53 supports none")
    elif alarm.get("Statistic") not in ROUTE53_STATISTICS:
        problems.append(f"its statistic is {alarm.get('Statistic')}: Route 53 supports {', '.join(ROUTE53_STATISTICS)}")
    if alarm.get("Metrics"):
        problems.append("it watches a metric math expression: Route 53 follows single-metric alarms")
    return problems


def traffic_claim(plan: RecoveryPlan, factory: ClientFactory, region: str) -> dict[str, Any]:
    """Whether ``region``'s controller claims the plan's traffic, as Route 53's health check follows it: the claim
    alarm in ALARM. The alarm changes at the end of the period a datapoint falls in (60 s, standard resolution), so a
    claim or withdrawal just published reads as before until then: the runbook republishes until it reads as
    intended (docs/dns.md). ``alarm`` is MISSING when the stack's alarm does not exist there; ``unsupported`` says why
    Route 53 could not follow it."""
    name = claim_alarm_name(plan.application)
    found = call(
        f"DescribeAlarms {name} in {region}", factory.cloudwatch(region).describe_alarms, AlarmNames=[name]
    ).get("MetricAlarms", [])
    if not found:
        return {"alarm": "MISSING", "claimed": False, "unsupported": []}
    state = str(found[0]["StateValue"])
    return {"alarm": state, "claimed": state == "ALARM", "unsupported": route53_cannot_follow(found[0])}
