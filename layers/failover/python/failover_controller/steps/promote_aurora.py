"""Promote the Aurora global database's member in the target region to writer.

graceful: SwitchoverGlobalCluster (no data loss; both regions up).
ungraceful: FailoverGlobalCluster with AllowDataLoss, refused when the replication lag observed just before
exceeds the plan's RPO, unless the input says ``force_beyond_rpo``. The promotion is asynchronous: the
``status`` action reports when it is done, for the state machine's poll loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from failover_controller.aws import call
from failover_controller.errors import PreconditionFailed, StepFailed
from failover_controller.results import PlannedAction, StepResult
from failover_controller.steps.base import StepRequest

STEP = "promote_aurora"
ACTIONS = ("promote", "status")
PARAMS: dict[str, type] = {"force_beyond_rpo": bool, "deadline": int}

LAG_NAMESPACE = "AWS/RDS"
# Milliseconds, published in the secondary's region under a dimension set that includes SourceRegion (never
# DBClusterIdentifier alone). AuroraGlobalDBRPOLag (Aurora PostgreSQL) is exactly what a failover would lose.
RPO_LAG_METRIC = "AuroraGlobalDBRPOLag"
LAG_METRIC = "AuroraGlobalDBReplicationLag"
LAG_WINDOW = timedelta(minutes=5)
IN_PROGRESS = frozenset({"switching-over", "failing-over"})


def arn_region(arn: str | None) -> str | None:
    """The region field of an ARN (``arn:partition:service:region:account:resource``)."""
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    return parts[3] or None if len(parts) == 6 and parts[0] == "arn" else None


def observe(req: StepRequest) -> dict[str, Any]:
    """The global cluster as seen from the target region (which works with the other region down)."""
    region = req.target_region
    rds = req.clients.rds(region)
    cluster_id = req.plan.aurora_clusters[region]
    cluster = call(
        f"Aurora cluster {cluster_id} in {region}", rds.describe_db_clusters, DBClusterIdentifier=cluster_id
    )["DBClusters"][0]
    gc = call(
        f"Aurora global cluster {req.plan.global_cluster_id}",
        rds.describe_global_clusters,
        GlobalClusterIdentifier=req.plan.global_cluster_id,
    )["GlobalClusters"][0]
    members = {m["DBClusterArn"]: m for m in gc.get("GlobalClusterMembers", [])}
    target_arn = cluster["DBClusterArn"]
    writer = next((arn for arn, m in members.items() if m.get("IsWriter")), None)
    state = gc.get("FailoverState") or {}
    # Any FailoverState status (pending, failing-over, switching-over, cancelling) is an operation under way.
    in_progress = gc.get("Status") in IN_PROGRESS or bool(state.get("Status"))
    return {
        "global_cluster_status": gc.get("Status"),
        "engine": cluster.get("Engine") or gc.get("Engine"),
        "writer_arn": writer,
        "writer_region": arn_region(writer),
        "target_arn": target_arn,
        "target_cluster_status": cluster.get("Status"),
        "target_is_member": target_arn in members,
        "target_is_writer": bool(members.get(target_arn, {}).get("IsWriter")),
        "target_sync_status": members.get(target_arn, {}).get("SynchronizationStatus"),
        "in_progress": in_progress,
        "operation_status": state.get("Status") or (gc.get("Status") if in_progress else None),
        "in_progress_to": state.get("ToDbClusterArn") if in_progress else None,
    }


def require_writer(req: StepRequest, what: str, region: str | None = None) -> None:
    """The split-brain guard: writes and DNS go only to the region whose Aurora cluster is the writer.

    Two controllers started at once (each seeing the other region as down) can both run; the global
    cluster has one writer at a time, so whichever region is not it refuses to point writes or DNS at itself.
    The writer is read from this region's DescribeGlobalClusters only: the peer may be down.
    """
    region = region or req.target_region
    seen = observe(req)
    settled = not seen["in_progress"] and seen["global_cluster_status"] == "available"
    ok = is_promoted(seen) if region == req.target_region else settled and seen["writer_region"] == region
    if not ok:
        raise PreconditionFailed(
            f"{what} must follow the database: the Aurora writer is in {seen['writer_region'] or 'none'}"
            f"{' (a promotion is under way)' if seen['in_progress'] else ''}, not {region}; "
            f"refusing to send {what} to a region whose database is read-only"
        )


@dataclass(frozen=True)
class LagReading:
    """The newest replication lag of the target (secondary) cluster, and the series it was read from."""

    value_ms: float | None
    metric: str
    dimensions: dict[str, str]
    detail: str = ""

    @property
    def series(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in sorted(self.dimensions.items()))
        return f"{LAG_NAMESPACE} {self.metric} {{{dims}}}" if self.dimensions else f"{LAG_NAMESPACE} {self.metric}"


def _list_series(req: StepRequest, metric: str, dimension: dict[str, str]) -> list[dict[str, str]]:
    cw = req.clients.cloudwatch(req.target_region)
    kwargs: dict[str, Any] = {
        "Namespace": LAG_NAMESPACE,
        "MetricName": metric,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimension.items()],
        "RecentlyActive": "PT3H",
    }
    found: list[dict[str, str]] = []
    while True:
        page = call(f"CloudWatch ListMetrics {metric}", cw.list_metrics, **kwargs)
        found += [{d["Name"]: d["Value"] for d in m.get("Dimensions", [])} for m in page.get("Metrics", [])]
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def _lag_series(req: StepRequest, metric: str) -> dict[str, str] | None:
    """CloudWatch matches dimension sets exactly, so the series is discovered, never assumed: the one naming
    the target cluster (from the source region when several), else the one keyed by SourceRegion alone."""
    cluster_id = req.plan.aurora_clusters[req.target_region].lower()
    by_cluster = _list_series(req, metric, {"DBClusterIdentifier": cluster_id})
    if by_cluster:
        from_source = [d for d in by_cluster if d.get("SourceRegion") == req.source_region]
        return min(from_source or by_cluster, key=len)
    by_source = [d for d in _list_series(req, metric, {"SourceRegion": req.source_region}) if len(d) == 1]
    return by_source[0] if len(by_source) == 1 else None


def replication_lag(req: StepRequest, engine: str | None = None) -> LagReading:
    """The newest lag datapoint of the target (secondary) cluster; ``value_ms`` None without data."""
    metrics = (RPO_LAG_METRIC, LAG_METRIC) if (engine or "").startswith("aurora-postgresql") else (LAG_METRIC,)
    for metric in metrics:
        dimensions = _lag_series(req, metric)
        if dimensions is None:
            continue
        now = datetime.now(UTC)
        points = call(
            f"CloudWatch {metric} of {req.plan.aurora_clusters[req.target_region]}",
            req.clients.cloudwatch(req.target_region).get_metric_statistics,
            Namespace=LAG_NAMESPACE,
            MetricName=metric,
            Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
            StartTime=now - LAG_WINDOW,
            EndTime=now + timedelta(minutes=1),
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        if points:
            newest = max(points, key=lambda p: p["Timestamp"])
            return LagReading(float(newest["Maximum"]), metric, dimensions)
        return LagReading(None, metric, dimensions, f"no datapoint of {metric} in the last 5 minutes")
    return LagReading(None, " or ".join(metrics), {}, f"no {' or '.join(metrics)} series for this cluster")


def replication_lag_ms(req: StepRequest, engine: str | None = None) -> float | None:
    return replication_lag(req, engine).value_ms


def is_promoted(seen: dict[str, Any]) -> bool:
    return bool(
        seen["target_is_writer"]
        and not seen["in_progress"]
        and seen["global_cluster_status"] == "available"
        and seen["target_cluster_status"] == "available"
    )


def _rpo_guard(req: StepRequest, result: StepResult) -> None:
    """Ungraceful promotion loses what has not replicated: measure it, and stop past the RPO unless forced."""
    lag = result.before["replication_lag_ms"]
    budget_ms = req.plan.rpo_seconds * 1000
    result.before["rpo_exposure_ms"] = lag
    result.before["rpo_budget_ms"] = budget_ms
    if lag is None:
        result.message = f"RPO exposure unknown: {result.before['replication_lag_detail']}. "
        return
    if lag > budget_ms and not req.params.get("force_beyond_rpo", False):
        raise PreconditionFailed(
            f"replication lag {lag:.0f} ms exceeds the plan's RPO of {budget_ms} ms: an ungraceful "
            "failover now would lose more data than the plan allows; "
            "start it with force_beyond_rpo=true to accept that",
            details={"rpo_exposure_ms": lag, "rpo_budget_ms": budget_ms},
        )
    if lag > budget_ms:
        result.message = f"FORCED beyond RPO: replication lag {lag:.0f} ms > {budget_ms} ms. "


def promote(req: StepRequest) -> StepResult:
    result = req.result(STEP)
    seen = observe(req)
    # Always present (the state machine reads them): what this promotion may lose, measured just before it.
    result.before = {**seen, "replication_lag_ms": None, "data_loss_allowed": not req.graceful}
    if not seen["target_is_member"]:
        raise PreconditionFailed(
            f"cluster {req.plan.aurora_clusters[req.target_region]} is not a member of global cluster "
            f"{req.plan.global_cluster_id}"
        )
    if seen["in_progress"]:
        if seen["in_progress_to"] not in (None, seen["target_arn"]):
            raise PreconditionFailed(
                f"an operation toward {seen['in_progress_to']} is under way ({seen['operation_status']}); "
                "not starting another"
            )
        if seen["operation_status"] == "cancelling":
            raise PreconditionFailed(
                "a switchover or failover of the global cluster is being cancelled; start again once it settles"
            )
        result.after, result.done = seen, False
        result.message = (
            f"a promotion to the target is already under way ({seen['operation_status']}); not starting another"
        )
        return result
    if seen["target_is_writer"]:
        result.after, result.done = seen, is_promoted(seen)
        result.message = "the target cluster already is the writer; nothing to do"
        return result
    if seen["target_cluster_status"] != "available":
        raise PreconditionFailed(
            f"target cluster {seen['target_arn']} is {seen['target_cluster_status']}, not available"
        )
    reading = replication_lag(req, seen["engine"])
    result.before["replication_lag_ms"] = reading.value_ms
    result.before["replication_lag_series"] = reading.series
    result.before["replication_lag_detail"] = reading.detail
    if not req.graceful:
        _rpo_guard(req, result)

    rds = req.clients.rds(req.target_region)
    if req.graceful:
        api, fn = "rds:SwitchoverGlobalCluster", rds.switchover_global_cluster
        params: dict[str, Any] = {}
    else:
        api, fn = "rds:FailoverGlobalCluster", rds.failover_global_cluster
        params = {"AllowDataLoss": True}
    params |= {
        "GlobalClusterIdentifier": req.plan.global_cluster_id,
        "TargetDbClusterIdentifier": seen["target_arn"],
    }
    action = PlannedAction(api=api, region=req.target_region, params=params)
    result.actions.append(action)
    if req.dry_run:
        result.after = seen
        result.message += f"dry run: would call {api} to make {seen['target_arn']} the writer"
        return result

    call(f"{api} to {seen['target_arn']}", fn, **params)
    action.performed = True
    after = observe(req)
    result.after, result.changed = after, True
    if not (after["target_is_writer"] or after["in_progress_to"] == seen["target_arn"]):
        raise StepFailed(f"{api} was accepted but the global cluster shows no promotion toward the target")
    result.done = is_promoted(after)
    result.message += f"{api} started toward {seen['target_arn']}"
    return result


def status(req: StepRequest) -> StepResult:
    result = req.result(STEP)
    seen = observe(req)
    result.before = result.after = seen
    result.done = req.dry_run or is_promoted(seen)
    result.message = "promotion complete" if is_promoted(seen) else "promotion not complete"
    if req.dry_run and not is_promoted(seen):
        result.message = "dry run: nothing was started, nothing to wait for"
    elif not result.done and not seen["in_progress"] and not seen["target_is_writer"]:
        # The poll runs only after a promotion was started: with nothing under way and the writer elsewhere,
        # it was cancelled or failed. Waiting until the deadline would only hide that.
        raise StepFailed(
            f"no promotion is under way and the writer is still in {seen['writer_region'] or 'no region'}: "
            "the switchover or failover was cancelled or failed (see the RDS events of the global cluster)"
        )
    return result


def run(req: StepRequest) -> StepResult:
    return promote(req) if req.action == "promote" else status(req)
