"""Promote the Aurora global database's member in the target region to writer.

graceful: SwitchoverGlobalCluster (no data loss; both regions up).
ungraceful: FailoverGlobalCluster with AllowDataLoss, refused when the replication lag observed just before
exceeds the plan's RPO, unless the input says ``force_beyond_rpo``. The promotion is asynchronous: the
``status`` action reports when it is done, for the state machine's poll loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from failover_controller.aws import call
from failover_controller.checks.route53 import primary_claimed
from failover_controller.errors import PreconditionFailed, StepFailed, TransientAwsError
from failover_controller.reads import dns
from failover_controller.reads.aurora import global_cluster, is_promoted, replication_lag
from failover_controller.results import PlannedAction, StepResult
from failover_controller.steps.base import StepRequest

STEP = "promote_aurora"
ACTIONS = ("promote", "status")
PARAMS: dict[str, type] = {
    "force_beyond_rpo": bool,
    "deadline": int,
    "expected_writer": str,
    "preflight_writer": str,
    "promoted_at": str,
}
# How long after the promotion was accepted a describe may still not show it. AWS documents no read-after-write
# guarantee for DescribeGlobalClusters (docs/aws-behaviour.md): within this window, nothing under way is a wait, not
# a cancelled promotion.
VISIBILITY_GRACE_S = 60


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
    seen = global_cluster(req)
    # Always present (the state machine reads them): what this promotion may lose, measured just before it.
    result.before = {**seen, "replication_lag_ms": None, "data_loss_allowed": not req.graceful}
    if not seen["target_is_member"]:
        raise PreconditionFailed(
            f"cluster {req.plan.aurora_clusters[req.target_region]} is not a member of global cluster "
            f"{req.plan.global_cluster_id}"
        )
    if seen["in_progress"]:
        return _under_way(seen, result)
    if seen["target_is_writer"]:
        result.after, result.done = seen, is_promoted(seen)
        result.message = "the target cluster already is the writer; nothing to do"
        return result
    _require_writer_unmoved(req, seen)
    _require_primary_unclaimed(req, result)
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
    return _promote(req, seen, result)


def _require_writer_unmoved(req: StepRequest, seen: dict[str, Any]) -> None:
    """Compare and swap on the writer: promote only while the writer is where the run's requester saw it
    (``expected_writer``), or else where Preflight saw it. Two controllers failing over at once, or a person acting
    during the approval wait, would otherwise move the database twice, each time with data loss in ungraceful
    mode, and leave DNS with whoever claimed it last."""
    given = req.params.get("expected_writer")
    expected = given or req.params.get("preflight_writer")
    if expected is None or seen["writer_region"] == expected:
        return
    when = "the run was requested" if given else "the run began (preflight)"
    raise PreconditionFailed(
        f"the Aurora writer is in {seen['writer_region'] or 'no region'}, no longer in {expected} as when {when}: "
        "another run or a person has moved it since; not promoting. Start a new run if "
        f"{req.target_region} should still take over",
        details={"expected_writer": expected, "writer_region": seen["writer_region"]},
    )


def _require_primary_unclaimed(req: StepRequest, result: StepResult) -> None:
    """Data-plane DNS cannot leave a primary that claims the traffic: promoting the standby then would leave the
    traffic on a read-only database. Ungraceful: asked of DNS (the probe record), never of the primary, again right
    before the promotion (another controller may have claimed since Preflight). Graceful runs read the primary's
    own claim in Preflight, which is fresher than DNS (a claim just released still shows there for a while)."""
    if req.graceful or req.plan.dns_mode != "data_plane" or req.target_region == req.plan.primary_region:
        return
    try:
        claimed = dns.primary_claim(req.plan)
    except TransientAwsError as exc:
        result.message += f"the primary's claim could not be asked of DNS ({exc.message}). "
        return
    if claimed:
        raise PreconditionFailed(f"not promoting: {primary_claimed(req)}")


def _under_way(seen: dict[str, Any], result: StepResult) -> StepResult:
    """An operation is under way (any FailoverState status): never a second one."""
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


def _promote(req: StepRequest, seen: dict[str, Any], result: StepResult) -> StepResult:
    """Switchover (graceful) or failover with data loss allowed (ungraceful), then read that it began."""
    rds = req.clients.rds(req.target_region)
    if req.graceful:
        api, fn = "rds:SwitchoverGlobalCluster", rds.switchover_global_cluster
        params: dict[str, Any] = {}
    else:
        api, fn = "rds:FailoverGlobalCluster", rds.failover_global_cluster
        params = {"AllowDataLoss": True}
    params |= {"GlobalClusterIdentifier": req.plan.global_cluster_id, "TargetDbClusterIdentifier": seen["target_arn"]}
    action = PlannedAction(api=api, region=req.target_region, params=params)
    result.actions.append(action)
    if req.dry_run:
        result.after = seen
        result.message += f"dry run: would call {api} to make {seen['target_arn']} the writer"
        return result
    answer = call(f"{api} to {seen['target_arn']}", fn, **params).get("GlobalCluster", {})
    action.performed = True
    # The operation's own answer says it began: a describe right after it may not show it yet.
    state = answer.get("FailoverState") or {}
    if state.get("ToDbClusterArn") not in (None, seen["target_arn"]):
        raise StepFailed(f"{api} answered with an operation toward {state['ToDbClusterArn']}, not the target")
    result.after = seen | {
        "global_cluster_status": answer.get("Status", seen["global_cluster_status"]),
        "in_progress": True,
        "operation_status": state.get("Status") or "accepted",
        "in_progress_to": seen["target_arn"],
    }
    result.changed, result.done = True, False
    result.message += f"{api} started toward {seen['target_arn']} ({result.after['operation_status']})"
    return result


def status(req: StepRequest) -> StepResult:
    result = req.result(STEP)
    seen = global_cluster(req)
    result.before = result.after = seen
    result.done = req.dry_run or is_promoted(seen)
    result.message = "promotion complete" if is_promoted(seen) else "promotion not complete"
    if req.dry_run and not is_promoted(seen):
        result.message = "dry run: nothing was started, nothing to wait for"
    elif not result.done and not seen["in_progress"] and not seen["target_is_writer"]:
        # The poll runs only after a promotion was started: with nothing under way and the writer elsewhere, it was
        # cancelled or failed, once a describe can be expected to show it. Waiting until the deadline would hide that.
        since = _seconds_since(req.params.get("promoted_at"))
        if since is not None and since < VISIBILITY_GRACE_S:
            result.message = (
                f"the promotion accepted {since:.0f} s ago does not show in DescribeGlobalClusters yet; waiting "
                f"(up to {VISIBILITY_GRACE_S} s) before judging it cancelled"
            )
            return result
        raise StepFailed(
            f"no promotion is under way and the writer is still in {seen['writer_region'] or 'no region'}: "
            "the switchover or failover was cancelled or failed (see the RDS events of the global cluster)"
        )
    return result


def _seconds_since(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        then = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return (datetime.now(UTC) - then).total_seconds()


def run(req: StepRequest) -> StepResult:
    return promote(req) if req.action == "promote" else status(req)
