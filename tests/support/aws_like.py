"""botocore event hooks that make an emulator answer the way AWS does where the emulator is kinder.

Each hook is registered on a boto3 session before its clients are built (clients copy the session's handlers),
so the code under test calls AWS exactly as it would in production and sees what AWS would return.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError
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


def endpoint_updates_take_time(session: boto3.Session, polls: int = 1, in_service: int | None = None) -> None:
    """After UpdateEndpointWeightsAndCapacities the endpoint reads Updating for the next ``polls`` descriptions
    (moto applies an update at once), and a second update meanwhile is refused, as SageMaker does. ``in_service``:
    meanwhile each variant has that many instances in service (an endpoint serves through an update; the new
    instances come in at its end)."""
    pending = {"left": 0}

    def started(**_: Any) -> None:
        pending["left"] = polls

    def show(parsed: dict[str, Any], **_: Any) -> None:
        if pending["left"] > 0:
            pending["left"] -= 1
            parsed["EndpointStatus"] = "Updating"
            for variant in parsed["ProductionVariants"] if in_service is not None else []:
                variant["CurrentInstanceCount"] = in_service

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


def answer_with_error(code: str, message: str, status: int = 400) -> tuple[AWSResponse, dict[str, Any]]:
    """What a before-call hook returns to answer with AWS's error ``code`` (and HTTP ``status``)."""
    return _error(code, message, status)


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


def strict_enums(session: boto3.Session) -> None:
    """A value outside the service model's enum is refused with ValidationException, as AWS refuses it.

    botocore validates types and required members but not enums, and moto stores whatever it is given
    (a parameter of ``Type="string"``, a record ``Failover="primary"``).
    """

    def check(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["aws_like_enum_problems"] = list(_enum_problems(model.input_shape, params, ""))

    def refuse(context: dict[str, Any], **_: Any) -> Any:
        problems = context.get("aws_like_enum_problems")
        if problems:
            return _error("ValidationException", "; ".join(problems), 400)
        return None

    session.events.register("before-parameter-build", check)
    session.events.register("before-call", refuse)


def _enum_problems(shape: Any, value: Any, path: str) -> Any:
    if shape is None:
        return
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                yield from _enum_problems(member, value[name], f"{path}.{name}".lstrip("."))
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            yield from _enum_problems(shape.member, item, f"{path}[{i}]")
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            yield from _enum_problems(shape.value, item, f"{path}.{key}")
    elif kind == "string" and shape.enum and value not in shape.enum:
        yield f"Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy enum value set: " + str(
            shape.enum
        )


def route53_changes_exist(session: boto3.Session) -> None:
    """GetChange knows only the changes Route 53 made: another id is NoSuchChange. moto answers INSYNC to any id."""
    made: set[str] = set()

    def remember(parsed: dict[str, Any], **_: Any) -> None:
        if "ChangeInfo" in parsed:
            made.add(parsed["ChangeInfo"]["Id"].removeprefix("/change/"))

    def asked(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["aws_like_change"] = params.get("Id", "").removeprefix("/change/")

    def known(context: dict[str, Any], **_: Any) -> Any:
        change = context.get("aws_like_change")
        if change in made:
            return None
        return _error("NoSuchChange", f"A change with the specified change ID does not exist: {change}", 404)

    session.events.register("after-call.route53.ChangeResourceRecordSets", remember)
    session.events.register("before-parameter-build.route53.GetChange", asked)
    session.events.register("before-call.route53.GetChange", known)


class Outage:
    """Regions that stop answering mid-test: every call to a region in ``down`` fails to connect, and every call to
    one in ``throttled`` is throttled past the SDK's retries (a region browned out).

    Installed when the world is built (clients copy their session's hooks), switched on by the test.
    """

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.throttled: set[str] = set()

    def install(self, session: boto3.Session) -> None:
        def refuse(model: Any, context: dict[str, Any], **_: Any) -> None:
            region = context["client_region"]
            if region in self.down:
                raise EndpointConnectionError(
                    endpoint_url=f"https://{model.service_model.service_name}.{region}.amazonaws.com"
                )
            if region in self.throttled:
                response: Any = {
                    "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                }
                raise ClientError(response, model.name)

        session.events.register("before-call", refuse)


def eventually_consistent_reads(session: boto3.Session) -> None:
    """A DynamoDB read without ConsistentRead may miss a write completed just before it, as on AWS; here it always
    does (the item reads as absent). moto's reads are always consistent."""

    def asked(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if model.name == "GetItem":
            context["aws_like_stale"] = not params.get("ConsistentRead")
        else:
            context["aws_like_stale_tables"] = [
                t for t, spec in params.get("RequestItems", {}).items() if not spec.get("ConsistentRead")
            ]

    def stale(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get("aws_like_stale"):
            parsed.pop("Item", None)
        for table in context.get("aws_like_stale_tables", []):
            parsed.get("Responses", {}).pop(table, None)

    for op in ("GetItem", "BatchGetItem"):
        session.events.register(f"before-parameter-build.dynamodb.{op}", asked)
        session.events.register(f"after-call.dynamodb.{op}", stale)
