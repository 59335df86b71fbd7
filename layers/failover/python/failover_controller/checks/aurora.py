"""Aurora: the target cluster is available, a member of the global cluster, replicating, and within the RPO."""

from __future__ import annotations

from functools import partial
from typing import Any

from failover_controller.checks import guarded
from failover_controller.errors import FailoverError
from failover_controller.reads import aurora
from failover_controller.results import Check
from failover_controller.steps.base import StepRequest


def checks(req: StepRequest) -> list[Check]:
    cluster_id = req.plan.aurora_clusters[req.target_region]
    read = _read(req)
    seen = read if isinstance(read, dict) else None
    return [
        guarded("aurora.cluster_available", cluster_id, "available", partial(_available, req, read)),
        _member(req, seen),
        _synchronized(req, seen),
        guarded("aurora.replication_lag_ms", _lag_resource(req), req.plan.rpo_seconds * 1000, partial(_lag, req, seen)),
        _writer(req, seen),
    ]


def _read(req: StepRequest) -> dict[str, Any] | FailoverError:
    """The global cluster once, for every check; a failed read is kept, to be reported as the first check's."""
    try:
        return aurora.global_cluster(req)
    except FailoverError as exc:
        return exc


def _available(req: StepRequest, read: dict[str, Any] | FailoverError) -> Check:
    if isinstance(read, FailoverError):
        raise read
    status = read["target_cluster_status"]
    cluster_id = req.plan.aurora_clusters[req.target_region]
    return Check(
        "aurora.cluster_available", cluster_id, status, "available", "pass" if status == "available" else "fail"
    )


def _member(req: StepRequest, seen: dict[str, Any] | None) -> Check:
    cluster_id, gc = req.plan.aurora_clusters[req.target_region], req.plan.global_cluster_id
    if seen is None:
        return Check(
            "aurora.global_member", cluster_id, None, gc, "fail", "the cluster or global cluster could not be read"
        )
    member = seen["target_is_member"]
    detail = "" if member else "not a member of the global cluster"
    return Check("aurora.global_member", cluster_id, member, gc, "pass" if member else "fail", detail)


def _writer(req: StepRequest, seen: dict[str, Any] | None) -> Check:
    """Where the writer is as the run begins: PromoteAurora acts only while it is still there (another run or a
    person moving it meanwhile stops the promotion). No writer, or one mid-operation, is reported, not judged."""
    name, gc = "aurora.writer", req.plan.global_cluster_id
    if seen is None:
        return Check(name, gc, None, "a writer region", "unknown", "the global cluster could not be read")
    writer = aurora.settled_writer_region(seen)
    if writer is None:
        detail = "an operation is under way" if seen["in_progress"] else "the global cluster has no writer"
        return Check(name, gc, None, "a writer region", "unknown", detail)
    return Check(name, gc, writer, "a writer region", "pass")


def _synchronized(req: StepRequest, seen: dict[str, Any] | None) -> Check:
    name, cluster_id = "aurora.synchronized", req.plan.aurora_clusters[req.target_region]
    if seen is None:
        return Check(name, cluster_id, None, "connected", "fail", "the cluster could not be read")
    if seen["target_is_writer"]:
        return Check(name, cluster_id, None, "connected", "skipped", "the target already is the writer")
    status = seen.get("target_sync_status")
    if status is None:
        return Check(name, cluster_id, None, "connected", "unknown", "the global cluster reports no status")
    ok = status == "connected"
    if not ok and not req.graceful:
        # AWS documents connected and pending-resync, and not what the secondary reads while the primary is
        # unreachable: a failover with data loss is what that night needs; the RPO guard judges what it may lose.
        detail = (
            "the secondary does not read as connected (the primary may be unreachable); ungraceful: not blocking, "
            "the replication lag check and the RPO guard judge the data loss"
        )
        return Check(name, cluster_id, status, "connected", "unknown", detail)
    detail = "" if ok else "the secondary is not replicating from the writer"
    return Check(name, cluster_id, status, "connected", "pass" if ok else "fail", detail)


def _lag_resource(req: StepRequest) -> str:
    return f"{req.plan.aurora_clusters[req.target_region]} ({aurora.LAG_NAMESPACE} replication lag, Maximum)"


def _lag(req: StepRequest, seen: dict[str, Any] | None) -> Check:
    name, budget = "aurora.replication_lag_ms", req.plan.rpo_seconds * 1000
    if seen and seen.get("target_is_writer"):
        return Check(name, _lag_resource(req), None, budget, "skipped", "the target already is the writer")
    reading = aurora.replication_lag(req, (seen or {}).get("engine"))
    value, series = reading.value_ms, f"{req.plan.aurora_clusters[req.target_region]} ({reading.series}, Maximum)"
    if value is None:
        if req.graceful:
            return Check(name, series, None, budget, "fail", reading.detail)
        return Check(name, series, None, budget, "unknown", f"{reading.detail}; RPO exposure unknown")
    if value <= budget:
        return Check(name, series, value, budget, "pass")
    if not req.graceful and req.params.get("force_beyond_rpo"):
        return Check(name, series, value, budget, "pass", "over the RPO, accepted by force_beyond_rpo")
    why = "replication lag exceeds the plan's RPO"
    if not req.graceful:
        why += " (a run started with force_beyond_rpo goes on, and loses that much)"
    return Check(name, series, value, budget, "fail", why)
