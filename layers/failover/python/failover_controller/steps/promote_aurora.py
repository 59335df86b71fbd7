"""Promote the Aurora global database's member in the target region to writer.

graceful: SwitchoverGlobalCluster (no data loss; both regions up).
ungraceful: FailoverGlobalCluster with AllowDataLoss, refused when the replication lag observed just before
exceeds the plan's RPO, unless the input says ``force_beyond_rpo``. The promotion is asynchronous: the
``status`` action reports when it is done, for the state machine's poll loop.
"""

from __future__ import annotations

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
LAG_METRIC = "AuroraGlobalDBReplicationLag"  # milliseconds, published for the secondary in its own region
LAG_WINDOW = timedelta(minutes=5)
IN_PROGRESS = frozenset({"switching-over", "failing-over"})


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
    in_progress = gc.get("Status") in IN_PROGRESS or state.get("Status") in {"pending", "failing-over"}
    return {
        "global_cluster_status": gc.get("Status"),
        "writer_arn": writer,
        "target_arn": target_arn,
        "target_cluster_status": cluster.get("Status"),
        "target_is_member": target_arn in members,
        "target_is_writer": bool(members.get(target_arn, {}).get("IsWriter")),
        "target_sync_status": members.get(target_arn, {}).get("SynchronizationStatus"),
        "in_progress": in_progress,
        "in_progress_to": state.get("ToDbClusterArn") if in_progress else None,
    }


def require_writer(req: StepRequest, what: str) -> None:
    """The split-brain guard: writes and DNS go only to the region whose Aurora cluster is the writer.

    Two controllers started at once (each seeing the other region as down) can both run; the global
    cluster has one writer at a time, so whichever region is not it refuses to point writes or DNS at itself.
    """
    seen = observe(req)
    if not is_promoted(seen):
        writer = seen["writer_arn"].split(":")[3] if seen["writer_arn"] else "none"
        raise PreconditionFailed(
            f"{what} must follow the database: the Aurora writer is in {writer}"
            f"{' (a promotion is under way)' if seen['in_progress'] else ''}, not {req.target_region}; "
            f"refusing to send {what} to a region whose database is read-only"
        )


def replication_lag_ms(req: StepRequest) -> float | None:
    """The newest replication lag datapoint of the target (secondary) cluster, or None without data."""
    cluster_id = req.plan.aurora_clusters[req.target_region]
    now = datetime.now(UTC)
    points = call(
        f"CloudWatch {LAG_METRIC} of {cluster_id}",
        req.clients.cloudwatch(req.target_region).get_metric_statistics,
        Namespace=LAG_NAMESPACE,
        MetricName=LAG_METRIC,
        Dimensions=[{"Name": "DBClusterIdentifier", "Value": cluster_id}],
        StartTime=now - LAG_WINDOW,
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    if not points:
        return None
    newest = max(points, key=lambda p: p["Timestamp"])
    return float(newest["Maximum"])


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
        result.message = f"RPO exposure unknown: no {LAG_METRIC} datapoint in the last 5 minutes. "
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
            raise PreconditionFailed(f"a promotion toward {seen['in_progress_to']} is already in progress")
        result.after, result.done = seen, False
        result.message = "a promotion to the target is already in progress; not starting another"
        return result
    if seen["target_is_writer"]:
        result.after, result.done = seen, is_promoted(seen)
        result.message = "the target cluster already is the writer; nothing to do"
        return result
    if seen["target_cluster_status"] != "available":
        raise PreconditionFailed(
            f"target cluster {seen['target_arn']} is {seen['target_cluster_status']}, not available"
        )
    result.before["replication_lag_ms"] = replication_lag_ms(req)
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
    return result


def run(req: StepRequest) -> StepResult:
    return promote(req) if req.action == "promote" else status(req)
