"""The split-brain guard: writes and DNS go only to the region whose Aurora cluster is the writer."""

from __future__ import annotations

from failover_controller.errors import PreconditionFailed
from failover_controller.reads import Scope
from failover_controller.reads.aurora import global_cluster, is_promoted


def require_writer(scope: Scope, what: str, region: str | None = None) -> None:
    """Refuse to point ``what`` (writes, DNS) at ``region`` (default: the target) unless its database writes.

    Two controllers started at once (each seeing the other region as down) can both run; the global cluster has
    one writer at a time, so whichever region is not it refuses to point writes or DNS at itself. The writer is
    read from this region's DescribeGlobalClusters only: the peer may be down.
    """
    region = region or scope.target_region
    seen = global_cluster(scope)
    settled = not seen["in_progress"] and seen["global_cluster_status"] == "available"
    ok = is_promoted(seen) if region == scope.target_region else settled and seen["writer_region"] == region
    if not ok:
        raise PreconditionFailed(
            f"{what} must follow the database: the Aurora writer is in {seen['writer_region'] or 'none'}"
            f"{' (a promotion is under way)' if seen['in_progress'] else ''}, not {region}; "
            f"refusing to send {what} to a region whose database is read-only"
        )
