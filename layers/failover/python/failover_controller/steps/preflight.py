"""Is the target region ready to take over? Every check is run and reported; nothing is changed.

A failing check raises NotReady naming every failing check. ``unknown`` (no data to judge by) is reported
and does not block, except where the mode needs the data (graceful mode needs the replication lag).
In ungraceful mode the source region is assumed unreachable and is not consulted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from failover_controller.aws import call
from failover_controller.errors import NotReady, PreconditionFailed, StepFailed, TransientAwsError
from failover_controller.plan import Endpoint
from failover_controller.results import Check, StepResult
from failover_controller.steps import promote_aurora, shift_sagemaker_traffic, switch_dynamodb_writes
from failover_controller.steps.base import StepRequest
from failover_controller.steps.flip_dns import record_sets

STEP = "preflight"
ACTIONS = ("check",)
PARAMS: dict[str, type] = {"force_beyond_rpo": bool}

_ECR_HOST = re.compile(r"^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")
_S3_URL = re.compile(r"^s3://[^/]+/")


_UNANSWERED = ("NotImplemented", "not implemented", "InvalidAction", "UnknownOperation", "UnsupportedOperation")


NO_ANSWER = "no answer"


def _guard(name: str, resource: str, threshold: Any, fn: Callable[[], Check]) -> Check:
    """A check whose resource is missing or whose call fails is a failing check, not a crash; one whose
    service cannot answer the call at all (an emulator, a partition without the API), or did not answer in time
    (a region browned out), is unknown, never passed."""
    try:
        return fn()
    except TransientAwsError as exc:
        return Check(name, resource, None, threshold, "unknown", f"{NO_ANSWER}: {exc.message}")
    except (PreconditionFailed, StepFailed) as exc:
        if any(marker in exc.message for marker in _UNANSWERED):
            return Check(name, resource, None, threshold, "unknown", f"the service cannot answer: {exc.message}")
        return Check(name, resource, observed=None, threshold=threshold, verdict="fail", detail=exc.message)


def aurora_checks(req: StepRequest) -> list[Check]:
    cluster_id = req.plan.aurora_clusters[req.target_region]
    metric = f"{cluster_id} ({promote_aurora.LAG_NAMESPACE} replication lag, Maximum)"
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
        reading = promote_aurora.replication_lag(req, seen.get("engine"))
        value, series = reading.value_ms, f"{cluster_id} ({reading.series}, Maximum)"
        if value is None:
            if req.graceful:
                return Check(name, series, None, budget, "fail", reading.detail)
            return Check(name, series, None, budget, "unknown", f"{reading.detail}; RPO exposure unknown")
        if value <= budget:
            return Check(name, series, value, budget, "pass")
        if not req.graceful and req.params.get("force_beyond_rpo", False):
            return Check(name, series, value, budget, "pass", "over the RPO, accepted by force_beyond_rpo")
        return Check(name, series, value, budget, "fail", "replication lag exceeds the plan's RPO")

    def synchronized() -> Check:
        name = "aurora.synchronized"
        if not seen:
            return Check(name, cluster_id, None, "connected", "fail", "the cluster could not be read")
        if seen["target_is_writer"]:
            return Check(name, cluster_id, None, "connected", "skipped", "the target already is the writer")
        status = seen.get("target_sync_status")
        if status is None:
            return Check(name, cluster_id, None, "connected", "unknown", "the global cluster reports no status")
        return Check(
            name,
            cluster_id,
            status,
            "connected",
            "pass" if status == "connected" else "fail",
            "" if status == "connected" else "the secondary is not replicating from the writer",
        )

    return [
        _guard("aurora.cluster_available", cluster_id, "available", cluster),
        membership(),
        synchronized(),
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


def _containers_of(req: StepRequest, region: str, name: str) -> dict[str, list[dict[str, str]]]:
    """Per variant of the region's endpoint ``name``: its model's containers (image URI, model data URL, the
    account that owns the endpoint: the plan's own account)."""
    sm = req.clients.sagemaker(region)
    endpoint = call(f"SageMaker endpoint {name} in {region}", sm.describe_endpoint, EndpointName=name)
    account = str(endpoint.get("EndpointArn", "")).split(":")[4:5] or [""]
    config_name = endpoint["EndpointConfigName"]
    config = call(
        f"endpoint config {config_name} in {region}", sm.describe_endpoint_config, EndpointConfigName=config_name
    )
    out: dict[str, list[dict[str, str]]] = {}
    for variant in config["ProductionVariants"]:
        model = call(f"model {variant['ModelName']} in {region}", sm.describe_model, ModelName=variant["ModelName"])
        containers = [model["PrimaryContainer"]] if "PrimaryContainer" in model else model.get("Containers", [])
        out[variant["VariantName"]] = [
            {"image": c.get("Image", ""), "model_data": c.get("ModelDataUrl", ""), "account": account[0]}
            for c in containers
        ]
    return out


def _model_of(req: StepRequest, region: str, name: str) -> dict[str, dict[str, str]]:
    """Per variant: the container image (without its regional registry) and model data (without bucket)."""
    return {
        variant: {
            "image": ",".join(_ECR_HOST.sub("", c["image"]) for c in containers),
            "model_data": ",".join(_S3_URL.sub("", c["model_data"]) for c in containers),
        }
        for variant, containers in _containers_of(req, region, name).items()
    }


def _pairs(req: StepRequest) -> list[tuple[Endpoint, Endpoint]]:
    """Each target endpoint with the source endpoint at its position (they serve the same model)."""
    return list(zip(req.plan.endpoints[req.target_region], req.plan.endpoints[req.source_region], strict=True))


def sagemaker_checks(req: StepRequest) -> list[Check]:
    return [check for target, source in _pairs(req) for check in _endpoint_checks(req, target, source)]


def _endpoint_checks(req: StepRequest, endpoint: Endpoint, source: Endpoint) -> list[Check]:
    def in_service() -> Check:
        seen = shift_sagemaker_traffic.observe(req, req.target_region, endpoint)
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
        serving = seen["status"] in {"InService", "Updating", "SystemUpdating"}
        detail = "" if serving else str(seen.get("failure_reason") or "")
        if seen["status"] == "SystemUpdating":
            detail = "AWS maintenance under way: it serves, and scaling waits until it completes"
        return Check(
            "sagemaker.endpoint_in_service",
            endpoint.endpoint_name,
            seen["status"],
            "InService",
            "pass" if serving else "fail",
            detail,
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
        target = _model_of(req, req.target_region, endpoint.endpoint_name)
        serving = _model_of(req, req.source_region, source.endpoint_name)
        differ = sorted(v for v in target if serving.get(v) != target[v])
        return Check(
            name,
            endpoint.endpoint_name,
            {"target": target, "source": serving},
            "identical",
            "fail" if differ else "pass",
            f"variant(s) {', '.join(differ)} serve a different image or model data" if differ else "",
        )

    return [
        _guard("sagemaker.endpoint_in_service", endpoint.endpoint_name, "InService", in_service),
        _guard("sagemaker.same_model_as_source", endpoint.endpoint_name, "identical", same_model),
    ]


_ECR_URI = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr(-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repo>[^:@]+)(:(?P<tag>[^@]+))?(@(?P<digest>.+))?$"
)


def artifact_checks(req: StepRequest) -> list[Check]:
    """What the standby endpoints need from their own region: their model images in that region's ECR, their model
    artifacts in that region's bucket, and (graceful) the source's artifact bucket replicating there."""
    region = req.target_region
    checks: list[Check] = []
    containers: dict[str, list[dict[str, str]]] = {}
    for endpoint in req.plan.endpoints[region]:
        try:
            variants = _containers_of(req, region, endpoint.endpoint_name)
        except (PreconditionFailed, StepFailed) as exc:
            checks.append(Check("model.artifacts", endpoint.endpoint_name, None, "readable", "fail", exc.message))
            continue
        containers |= {f"{endpoint.endpoint_name}/{v}": items for v, items in variants.items()}
    for items in containers.values():
        for item in items:
            checks.append(_guard("ecr.image_in_target_region", item["image"], region, partial(_image, req, item)))
            if item["model_data"]:
                checks.append(
                    _guard("s3.model_artifacts_present", item["model_data"], "exists", partial(_artifact, req, item))
                )
    source_buckets = req.plan.artifact_buckets[req.source_region]
    if req.graceful:
        checks.append(
            _guard(
                "s3.artifacts_replicate_to_target",
                source_buckets,
                "replication rule to the target bucket",
                partial(_replication, req, containers),
            )
        )
    else:
        checks.append(
            Check(
                "s3.artifacts_replicate_to_target",
                source_buckets,
                None,
                "replication rule",
                "skipped",
                f"ungraceful: {req.source_region} is not consulted",
            )
        )
    return checks


def _image(req: StepRequest, item: dict[str, str]) -> Check:
    name, image = "ecr.image_in_target_region", item["image"]
    match = _ECR_URI.match(image)
    if not match:
        return Check(name, image, None, req.target_region, "skipped", "not an ECR image")
    if item["account"] and match["account"] != item["account"]:
        # AWS Deep Learning Containers and JumpStart images live in AWS-owned registries, served in every region;
        # DescribeImages on another account's registry is denied.
        return Check(
            name,
            image,
            match["account"],
            item["account"],
            "skipped",
            f"the image belongs to account {match['account']}, not the plan's ({item['account']}): "
            "its owner serves it; not checked",
        )
    if match["region"] != req.target_region:
        return Check(
            name,
            image,
            match["region"],
            req.target_region,
            "fail",
            f"the image is pulled from {match['region']}'s registry, which fails with that region",
        )
    image_id = {"imageDigest": match["digest"]} if match["digest"] else {"imageTag": match["tag"] or "latest"}
    found = call(
        f"ECR image {image}",
        req.clients.client("ecr", req.target_region).describe_images,
        registryId=match["account"],
        repositoryName=match["repo"],
        imageIds=[image_id],
    )
    ok = bool(found.get("imageDetails"))
    return Check(name, image, "present" if ok else "absent", "present", "pass" if ok else "fail")


def _bucket_region(req: StepRequest, bucket: str) -> str:
    """Where the bucket lives (GetBucketLocation: no constraint is us-east-1, the legacy "EU" is eu-west-1)."""
    location = call(
        f"location of s3://{bucket}",
        req.clients.client("s3", req.target_region).get_bucket_location,
        Bucket=bucket,
    ).get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, str(location))


def _artifact(req: StepRequest, item: dict[str, str]) -> Check:
    name, url = "s3.model_artifacts_present", item["model_data"]
    bucket, _, key = url.removeprefix("s3://").partition("/")
    own = req.plan.artifact_buckets
    if bucket not in own.values():
        return Check(
            name,
            url,
            bucket,
            own[req.target_region],
            "skipped",
            f"s3://{bucket} is not one of the plan's artifact buckets (a JumpStart or other account's bucket): "
            "its owner serves it; not checked",
        )
    if bucket != own[req.target_region]:
        region = next(r for r, b in own.items() if b == bucket)
        return Check(name, url, bucket, own[req.target_region], "fail", f"the artifact is read from {region}'s bucket")
    # A target-region client follows S3's redirect to a bucket in any region: only the bucket's location says.
    region = _bucket_region(req, bucket)
    if region != req.target_region:
        return Check(name, url, region, req.target_region, "fail", f"s3://{bucket} lives in {region}")
    head = call(
        f"model artifact {url}", req.clients.client("s3", req.target_region).head_object, Bucket=bucket, Key=key
    )
    return Check(name, url, head.get("ContentLength"), "exists", "pass")


def _buckets(containers: dict[str, list[dict[str, str]]]) -> set[str]:
    return {
        c["model_data"].removeprefix("s3://").partition("/")[0]
        for items in containers.values()
        for c in items
        if c["model_data"]
    }


def _replication(req: StepRequest, target_containers: dict[str, list[dict[str, str]]]) -> Check:
    name = "s3.artifacts_replicate_to_target"
    own = set(req.plan.artifact_buckets.values())
    target_buckets = _buckets(target_containers) & own
    source_buckets = own & {
        bucket
        for endpoint in req.plan.endpoints[req.source_region]
        for bucket in _buckets(_containers_of(req, req.source_region, endpoint.endpoint_name))
    }
    missing = []
    for bucket in sorted(source_buckets):
        config = call(
            f"replication of s3://{bucket}",
            req.clients.client("s3", req.source_region).get_bucket_replication,
            Bucket=bucket,
        )["ReplicationConfiguration"]
        destinations = {
            r["Destination"]["Bucket"].rsplit(":", 1)[-1]
            for r in config.get("Rules", [])
            if r.get("Status") == "Enabled"
        }
        missing += [f"s3://{bucket} -> s3://{t}" for t in sorted(target_buckets - destinations)]
    return Check(
        name,
        ",".join(sorted(source_buckets)),
        sorted(target_buckets),
        "replicated",
        "fail" if missing else "pass",
        f"no enabled replication rule: {', '.join(missing)}" if missing else "",
    )


def replication_latency_checks(req: StepRequest) -> list[Check]:
    """DynamoDB's ReplicationLatency toward the target, read in the source region; bound: the plan's RPO."""
    budget = req.plan.rpo_seconds * 1000
    checks = []
    for table in req.plan.dynamodb_tables:
        resource = f"{table} (AWS/DynamoDB ReplicationLatency, ReceivingRegion={req.target_region})"
        if not req.graceful:
            checks.append(
                Check(
                    "dynamodb.replication_latency_ms",
                    resource,
                    None,
                    budget,
                    "skipped",
                    f"ungraceful: {req.source_region} is not consulted",
                )
            )
            continue

        def latency(table: str = table, resource: str = resource) -> Check:
            now = datetime.now(UTC)
            points = call(
                f"ReplicationLatency of {table}",
                req.clients.cloudwatch(req.source_region).get_metric_statistics,
                Namespace="AWS/DynamoDB",
                MetricName="ReplicationLatency",
                Dimensions=[
                    {"Name": "TableName", "Value": table},
                    {"Name": "ReceivingRegion", "Value": req.target_region},
                ],
                StartTime=now - timedelta(minutes=5),
                EndTime=now + timedelta(minutes=1),
                Period=60,
                Statistics=["Maximum"],
            )["Datapoints"]
            if not points:
                return Check(
                    "dynamodb.replication_latency_ms",
                    resource,
                    None,
                    budget,
                    "unknown",
                    "no datapoint in the last 5 minutes",
                )
            value = float(max(points, key=lambda p: p["Timestamp"])["Maximum"])
            return Check(
                "dynamodb.replication_latency_ms",
                resource,
                value,
                budget,
                "pass" if value <= budget else "fail",
                "" if value <= budget else "replication to the target is behind by more than the RPO",
            )

        checks.append(_guard("dynamodb.replication_latency_ms", resource, budget, latency))
    return checks


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
    result.checks = (
        aurora_checks(req)
        + dynamodb_checks(req)
        + replication_latency_checks(req)
        + sagemaker_checks(req)
        + artifact_checks(req)
        + route53_checks(req)
    )
    if req.graceful:
        # A switchover needs both regions: one that does not answer makes graceful impossible, not merely unknown.
        for c in result.checks:
            if c.verdict == "unknown" and c.detail.startswith(NO_ANSWER):
                c.verdict = "fail"
                c.detail += (
                    f"; a graceful switchover needs both regions to answer (ungraceful if {req.source_region} is down)"
                )
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
