"""Is the target region ready to take over? Every check is run and reported; nothing is changed.

A failing check raises NotReady naming every failing check. ``unknown`` (no data to judge by) is reported
and does not block, except where the mode needs the data (graceful mode needs the replication lag).
In ungraceful mode the source region is assumed unreachable and is not consulted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from failover_controller.aws import call
from failover_controller.errors import NotReady, PreconditionFailed, StepFailed
from failover_controller.results import Check, StepResult
from failover_controller.steps import promote_aurora, shift_sagemaker_traffic, switch_dynamodb_writes
from failover_controller.steps.base import StepRequest
from failover_controller.steps.flip_dns import record_sets

STEP = "preflight"
ACTIONS = ("check",)
PARAMS: dict[str, type] = {"force_beyond_rpo": bool}

_ECR_HOST = re.compile(r"^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")
_S3_URL = re.compile(r"^s3://[^/]+/")


def _guard(name: str, resource: str, threshold: Any, fn: Callable[[], Check]) -> Check:
    """A check whose resource is missing or whose call fails is a failing check, not a crash."""
    try:
        return fn()
    except (PreconditionFailed, StepFailed) as exc:
        return Check(name, resource, observed=None, threshold=threshold, verdict="fail", detail=exc.message)


def aurora_checks(req: StepRequest) -> list[Check]:
    cluster_id = req.plan.aurora_clusters[req.target_region]
    metric = f"{cluster_id} ({promote_aurora.LAG_NAMESPACE} {promote_aurora.LAG_METRIC}, Maximum)"
    seen: dict[str, Any] = {}

    def cluster() -> Check:
        seen.update(promote_aurora.observe(req))
        status = seen["target_cluster_status"]
        return Check(
            "aurora.cluster_available",
            cluster_id,
            status,
            "available",
            "pass" if status == "available" else "fail",
        )

    def membership() -> Check:
        if not seen:
            return Check(
                "aurora.global_member",
                cluster_id,
                None,
                req.plan.global_cluster_id,
                "fail",
                "the cluster or global cluster could not be read",
            )
        return Check(
            "aurora.global_member",
            cluster_id,
            seen["target_is_member"],
            req.plan.global_cluster_id,
            "pass" if seen["target_is_member"] else "fail",
            "" if seen["target_is_member"] else "not a member of the global cluster",
        )

    budget = req.plan.rpo_seconds * 1000

    def lag() -> Check:
        name = "aurora.replication_lag_ms"
        if seen.get("target_is_writer"):
            return Check(name, metric, None, budget, "skipped", "the target already is the writer")
        value = promote_aurora.replication_lag_ms(req)
        if value is None:
            if req.graceful:
                return Check(name, metric, None, budget, "fail", "no datapoint in the last 5 minutes")
            return Check(name, metric, None, budget, "unknown", "no datapoint; RPO exposure unknown")
        if value <= budget:
            return Check(name, metric, value, budget, "pass")
        if not req.graceful and req.params.get("force_beyond_rpo", False):
            return Check(name, metric, value, budget, "pass", "over the RPO, accepted by force_beyond_rpo")
        return Check(name, metric, value, budget, "fail", "replication lag exceeds the plan's RPO")

    return [
        _guard("aurora.cluster_available", cluster_id, "available", cluster),
        membership(),
        _guard("aurora.replication_lag_ms", metric, budget, lag),
    ]


def dynamodb_checks(req: StepRequest) -> list[Check]:
    checks: list[Check] = []
    for table in req.plan.dynamodb_tables:

        def replica(table: str = table) -> Check:
            info = switch_dynamodb_writes.table_replica(req, table)
            ok = info["table_status"] == "ACTIVE" and req.source_region in info["replicas"]
            detail = "" if ok else f"needs ACTIVE here and a replica in {req.source_region}"
            observed = {"status": info["table_status"], "replicates_with": sorted(info["replicas"])}
            return Check("dynamodb.replica_active", table, observed, "ACTIVE", "pass" if ok else "fail", detail)

        checks.append(_guard("dynamodb.replica_active", table, "ACTIVE", replica))
    name = req.plan.write_region_parameter
    value = switch_dynamodb_writes.read_parameter(req, req.target_region)
    checks.append(
        Check(
            "dynamodb.write_region_parameter",
            name,
            value,
            "exists",
            "pass" if value is not None else "fail",
            "" if value is not None else f"parameter missing in {req.target_region}",
        )
    )
    return checks


def _model_of(req: StepRequest, region: str) -> dict[str, dict[str, str]]:
    """Per variant: the container image (without its regional registry) and model data (without bucket)."""
    sm = req.clients.sagemaker(region)
    name = req.plan.endpoints[region].endpoint_name
    config_name = call(f"SageMaker endpoint {name} in {region}", sm.describe_endpoint, EndpointName=name)[
        "EndpointConfigName"
    ]
    config = call(
        f"endpoint config {config_name} in {region}",
        sm.describe_endpoint_config,
        EndpointConfigName=config_name,
    )
    models: dict[str, dict[str, str]] = {}
    for variant in config["ProductionVariants"]:
        model = call(f"model {variant['ModelName']} in {region}", sm.describe_model, ModelName=variant["ModelName"])
        containers = [model["PrimaryContainer"]] if "PrimaryContainer" in model else model.get("Containers", [])
        models[variant["VariantName"]] = {
            "image": ",".join(_ECR_HOST.sub("", c.get("Image", "")) for c in containers),
            "model_data": ",".join(_S3_URL.sub("", c.get("ModelDataUrl", "")) for c in containers),
        }
    return models


def sagemaker_checks(req: StepRequest) -> list[Check]:
    endpoint = req.plan.endpoints[req.target_region]

    def in_service() -> Check:
        seen = shift_sagemaker_traffic.observe(req, req.target_region)
        missing = sorted({v.variant_name for v in endpoint.variants} - set(seen["variants"]))
        if missing:
            return Check(
                "sagemaker.endpoint_in_service",
                endpoint.endpoint_name,
                seen["status"],
                "InService",
                "fail",
                f"missing variant(s) {', '.join(missing)}",
            )
        return Check(
            "sagemaker.endpoint_in_service",
            endpoint.endpoint_name,
            seen["status"],
            "InService",
            "pass" if seen["status"] in {"InService", "Updating"} else "fail",
        )

    def same_model() -> Check:
        name = "sagemaker.same_model_as_source"
        if not req.graceful:
            return Check(
                name,
                endpoint.endpoint_name,
                None,
                "source's model",
                "skipped",
                f"ungraceful: {req.source_region} is not consulted",
            )
        target, source = _model_of(req, req.target_region), _model_of(req, req.source_region)
        differ = sorted(v for v in target if source.get(v) != target[v])
        return Check(
            name,
            endpoint.endpoint_name,
            {"target": target, "source": source},
            "identical",
            "fail" if differ else "pass",
            f"variant(s) {', '.join(differ)} serve a different image or model data" if differ else "",
        )

    return [
        _guard("sagemaker.endpoint_in_service", endpoint.endpoint_name, "InService", in_service),
        _guard("sagemaker.same_model_as_source", endpoint.endpoint_name, "identical", same_model),
    ]


def route53_checks(req: StepRequest) -> list[Check]:
    zone = req.plan.hosted_zone_id

    def zone_exists() -> Check:
        found = call(f"Route 53 hosted zone {zone}", req.clients.route53(req.target_region).get_hosted_zone, Id=zone)
        return Check("route53.hosted_zone", zone, found["HostedZone"]["Name"], "exists", "pass")

    checks = [_guard("route53.hosted_zone", zone, "exists", zone_exists)]
    if checks[0].verdict == "fail":
        return checks
    for record in req.plan.records:

        def sets(record: Any = record) -> Check:
            present = record_sets(req, record)
            wanted = set(record.set_identifiers.values())
            missing = sorted(wanted - set(present))
            return Check(
                "route53.record_sets",
                f"{record.fqdn} {record.type}",
                sorted(set(present) & wanted),
                sorted(wanted),
                "fail" if missing else "pass",
                f"missing set identifier(s) {', '.join(missing)}" if missing else "",
            )

        checks.append(_guard("route53.record_sets", f"{record.fqdn} {record.type}", "exists", sets))
    return checks


def check(req: StepRequest) -> StepResult:
    result: StepResult = req.result(STEP)
    result.checks = aurora_checks(req) + dynamodb_checks(req) + sagemaker_checks(req) + route53_checks(req)
    failing = [
        f"{c.name} {c.resource}: {c.detail or f'observed {c.observed!r}, wanted {c.threshold!r}'}"
        for c in result.checks
        if c.verdict == "fail"
    ]
    counts = {v: sum(c.verdict == v for c in result.checks) for v in ("pass", "fail", "unknown", "skipped")}
    result.before = result.after = {"verdicts": counts}
    if failing:
        raise NotReady(failing, [c.__dict__ for c in result.checks])
    result.message = f"{req.target_region} is ready: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    return result


def run(req: StepRequest) -> StepResult:
    return check(req)
