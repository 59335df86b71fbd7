"""botocore event hooks that make an emulator answer the way AWS does where the emulator is kinder.

Each hook is registered on a boto3 session before its clients are built (clients copy the session's handlers),
so the code under test calls AWS exactly as it would in production and sees what AWS would return.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError
from moto.cloudwatch.models import cloudwatch_backends


def _answer(parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    """A before-call handler's reply: botocore uses it instead of sending the request."""
    return AWSResponse("https://aws-like.invalid/", 200, {}, None), parsed  # type: ignore[arg-type]


def strict_metric_dimensions(session: boto3.Session) -> None:
    """GetMetricStatistics returns data only for a series whose dimension set is exactly the one asked for.

    moto matches any series that *contains* the requested dimensions; CloudWatch never does.
    """
    lister: dict[str, Any] = {}

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["aws_like_request"] = dict(params)

    def refuse_inexact(context: dict[str, Any], **_: Any) -> Any:
        asked = context.get("aws_like_request") or {}
        region = context["client_region"]
        client = lister.setdefault(region, session.client("cloudwatch", region_name=region))
        wanted = {(d["Name"], d["Value"]) for d in asked.get("Dimensions", [])}
        series = client.list_metrics(Namespace=asked["Namespace"], MetricName=asked["MetricName"])["Metrics"]
        if any({(d["Name"], d["Value"]) for d in m.get("Dimensions", [])} == wanted for m in series):
            return None
        return _answer({"Label": asked["MetricName"], "Datapoints": []})

    session.events.register("before-parameter-build.cloudwatch.GetMetricStatistics", remember)
    session.events.register("before-call.cloudwatch.GetMetricStatistics", refuse_inexact)


def alarm_transition_timestamps(session: boto3.Session) -> None:
    """DescribeAlarms carries StateTransitionedTimestamp (when StateValue last changed), which moto omits.

    moto refreshes StateUpdatedTimestamp on every SetAlarmState, also one that keeps the state: exactly the case
    where the two differ on AWS.
    """

    def add(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        backend = cloudwatch_backends["123456789012"][context["client_region"]]
        for alarm in parsed.get("MetricAlarms", []) + parsed.get("CompositeAlarms", []):
            model = backend.alarms[alarm["AlarmName"]]
            states = [(h[3], h[4]) for h in model.history if h[0] == "StateUpdate"]
            states.append((model.state_value, model.state_updated_timestamp))
            since = states[-1][1]
            for value, stamp in reversed(states):
                if value != model.state_value:
                    break
                since = stamp
            alarm["StateTransitionedTimestamp"] = since.replace(microsecond=since.microsecond // 1000 * 1000)  # wire

    session.events.register("after-call.cloudwatch.DescribeAlarms", add)


def global_cluster_operation(session: boto3.Session, failover_state: dict[str, Any], status: str | None = None) -> None:
    """DescribeGlobalClusters shows an operation under way (FailoverState, and the cluster's Status)."""

    def show(parsed: dict[str, Any], **_: Any) -> None:
        for gc in parsed.get("GlobalClusters", []):
            gc["FailoverState"] = dict(failover_state)
            if status:
                gc["Status"] = status

    session.events.register("after-call.rds.DescribeGlobalClusters", show)


Call = tuple[str, str, str]


def record_calls(session: boto3.Session) -> list[Call]:
    """Every call sent, as (region, service, operation), in order."""
    calls: list[Call] = []

    def note(model: Any, context: dict[str, Any], **_: Any) -> None:
        calls.append((context["client_region"], model.service_model.service_name, model.name))

    session.events.register("before-call", note)
    return calls


def unreachable(session: boto3.Session, region: str, services: tuple[str, ...] = ()) -> None:
    """Every call to ``region`` (or to its ``services``) fails to connect, as in a regional outage."""

    def refuse(model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        if context["client_region"] == region and (not services or service in services):
            raise EndpointConnectionError(endpoint_url=f"https://{service}.{region}.amazonaws.com")

    session.events.register("before-call", refuse)


def endpoint_status(session: boto3.Session, status: str, failure_reason: str | None = None) -> None:
    """DescribeEndpoint reports ``status`` (and its FailureReason), states moto never shows."""

    def show(parsed: dict[str, Any], **_: Any) -> None:
        parsed["EndpointStatus"] = status
        if failure_reason:
            parsed["FailureReason"] = failure_reason

    session.events.register("after-call.sagemaker.DescribeEndpoint", show)


def endpoint_updates_take_time(session: boto3.Session, polls: int = 1) -> None:
    """After UpdateEndpointWeightsAndCapacities the endpoint reads Updating for the next ``polls`` descriptions
    (moto applies an update at once), and a second update meanwhile is refused, as SageMaker does."""
    pending = {"left": 0}

    def started(**_: Any) -> None:
        pending["left"] = polls

    def show(parsed: dict[str, Any], **_: Any) -> None:
        if pending["left"] > 0:
            pending["left"] -= 1
            parsed["EndpointStatus"] = "Updating"

    def refuse_while_updating(**_: Any) -> Any:
        if pending["left"] > 0:
            return _error("ValidationException", "Cannot update in-progress endpoint", 400)
        return None

    session.events.register("before-call.sagemaker.UpdateEndpointWeightsAndCapacities", refuse_while_updating)
    session.events.register("after-call.sagemaker.UpdateEndpointWeightsAndCapacities", started)
    session.events.register("after-call.sagemaker.DescribeEndpoint", show)


def one_variant_capacity_per_call(session: boto3.Session) -> None:
    """UpdateEndpointWeightsAndCapacities changes the capacity of one variant per call (its API reference)."""

    def refuse(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["aws_like_capacities"] = sum("DesiredInstanceCount" in d for d in params["DesiredWeightsAndCapacities"])

    def answer(context: dict[str, Any], **_: Any) -> Any:
        if context.get("aws_like_capacities", 0) > 1:
            return _error("ValidationException", "capacity of one variant per call", 400)
        return None

    session.events.register("before-parameter-build.sagemaker.UpdateEndpointWeightsAndCapacities", refuse)
    session.events.register("before-call.sagemaker.UpdateEndpointWeightsAndCapacities", answer)


def error_on(session: boto3.Session, event: str, code: str, message: str) -> None:
    """``event`` (a before-call event name) answers with AWS's error ``code``."""
    session.events.register(event, lambda **_: _error(code, message, 400))  # type: ignore[arg-type]


def _error(code: str, message: str, status: int) -> tuple[AWSResponse, dict[str, Any]]:
    return AWSResponse("https://aws-like.invalid/", status, {}, None), {  # type: ignore[arg-type]
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


def ssm_parameter_tiers(session: boto3.Session) -> None:
    """PutParameter as SSM enforces it: a standard parameter holds 4096 characters, an advanced one 8192;
    Intelligent-Tiering answers with the tier it chose. moto stores any size in any tier."""

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["aws_like_put"] = (params.get("Tier", "Standard"), len(params.get("Value", "")))

    def enforce(context: dict[str, Any], **_: Any) -> Any:
        tier, size = context["aws_like_put"]
        limit = 4096 if tier == "Standard" else 8192
        if size > limit:
            return _error("ValidationException", f"{tier} tier parameters support at most {limit} characters", 400)
        return None

    def answer(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        tier, size = context["aws_like_put"]
        if tier == "Intelligent-Tiering":
            parsed["Tier"] = "Standard" if size <= 4096 else "Advanced"

    session.events.register("before-parameter-build.ssm.PutParameter", remember)
    session.events.register("before-call.ssm.PutParameter", enforce)
    session.events.register("after-call.ssm.PutParameter", answer)
