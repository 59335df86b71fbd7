"""Aurora: the global cluster as the target region sees it (who writes, what is under way), and the secondary's
replication lag. Everything is read in the target region, which answers with the other region down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from failover_controller.aws import call
from failover_controller.reads import Scope, arn_region
from failover_controller.reads.cloudwatch import list_series, newest_maximum

LAG_NAMESPACE = "AWS/RDS"
# Milliseconds, published in the secondary's region under a dimension set that includes SourceRegion (never
# DBClusterIdentifier alone). AuroraGlobalDBRPOLag (Aurora PostgreSQL) is exactly what a failover would lose.
RPO_LAG_METRIC = "AuroraGlobalDBRPOLag"
LAG_METRIC = "AuroraGlobalDBReplicationLag"
IN_PROGRESS = frozenset({"switching-over", "failing-over"})


def global_cluster(scope: Scope) -> dict[str, Any]:
    """The global cluster as seen from the target region (which works with the other region down)."""
    region = scope.target_region
    rds = scope.clients.rds(region)
    cluster_id = scope.plan.aurora_clusters[region]
    cluster = call(
        f"Aurora cluster {cluster_id} in {region}", rds.describe_db_clusters, DBClusterIdentifier=cluster_id
    )["DBClusters"][0]
    gc = call(
        f"Aurora global cluster {scope.plan.global_cluster_id}",
        rds.describe_global_clusters,
        GlobalClusterIdentifier=scope.plan.global_cluster_id,
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


def is_promoted(seen: dict[str, Any]) -> bool:
    """The target is the writer and available, and no operation is under way. The global cluster's own status is
    not asked to be ``available``: AWS documents nothing of it while the old primary's region is unreachable, and
    ``FailoverState`` (empty "unless a switchover or failover operation is scheduled or is currently in progress",
    its API reference) already says whether one is."""
    return bool(seen["target_is_writer"] and not seen["in_progress"] and seen["target_cluster_status"] == "available")


def settled_writer_region(seen: dict[str, Any]) -> str | None:
    """The writer's region, or None while an operation is under way."""
    return seen["writer_region"] if not seen["in_progress"] else None


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


def _lag_series(scope: Scope, metric: str) -> dict[str, str] | None:
    """CloudWatch matches dimension sets exactly, so the series is discovered, never assumed: the one naming
    the target cluster (from the source region when several), else the one keyed by SourceRegion alone."""
    region, clients = scope.target_region, scope.clients
    cluster_id = scope.plan.aurora_clusters[region].lower()
    by_cluster = list_series(clients, region, LAG_NAMESPACE, metric, {"DBClusterIdentifier": cluster_id})
    if by_cluster:
        from_source = [d for d in by_cluster if d.get("SourceRegion") == scope.source_region]
        return min(from_source or by_cluster, key=len)
    by_source = list_series(clients, region, LAG_NAMESPACE, metric, {"SourceRegion": scope.source_region})
    alone = [d for d in by_source if len(d) == 1]
    return alone[0] if len(alone) == 1 else None


def replication_lag(scope: Scope, engine: str | None = None) -> LagReading:
    """The newest lag datapoint of the target (secondary) cluster; ``value_ms`` None without data."""
    metrics = (RPO_LAG_METRIC, LAG_METRIC) if (engine or "").startswith("aurora-postgresql") else (LAG_METRIC,)
    cluster_id = scope.plan.aurora_clusters[scope.target_region]
    for metric in metrics:
        dimensions = _lag_series(scope, metric)
        if dimensions is None:
            continue
        value = newest_maximum(scope.clients, scope.target_region, LAG_NAMESPACE, metric, dimensions, what=cluster_id)
        if value is not None:
            return LagReading(value, metric, dimensions)
        return LagReading(None, metric, dimensions, f"no datapoint of {metric} in the last 5 minutes")
    return LagReading(None, " or ".join(metrics), {}, f"no {' or '.join(metrics)} series for this cluster")
