"""Send the plan's DNS names to the target region.

data_plane (docs/dns.md): the target region claims traffic (a metric in its own CloudWatch, which the Route 53
health check of the other region's records follows; a graceful failback withdraws the standby's claim instead);
``status`` publishes again a claim whose alarm does not show it yet, and reports when DNS answers with the target,
asked of the zone's name servers. While it waits, the Aurora writer must stay in the target. No Route 53 API call.

control_plane: weighted, the target's record set gets the plan's active weight, the source's 0; failover, the
target's record set becomes PRIMARY, the source's SECONDARY. Every record of the plan changes in one
ChangeResourceRecordSets batch (atomic); values, TTLs, alias targets and health checks of the existing record
sets are kept. ``status`` reports when the change is INSYNC.
"""

from __future__ import annotations

from failover_controller.aws import call
from failover_controller.changes import claim_dns, point_dns
from failover_controller.errors import InputInvalid, PreconditionFailed, StepFailed
from failover_controller.guards import require_writer
from failover_controller.results import StepResult
from failover_controller.steps.base import StepRequest

STEP = "flip_dns"
ACTIONS = ("flip", "status")
PARAMS: dict[str, type] = {"change_id": str, "deadline": int}


def flip(req: StepRequest) -> StepResult:
    return point_dns(req, req.target_region, req.result(STEP))


def status(req: StepRequest) -> StepResult:
    result = req.result(STEP)
    if req.plan.dns_mode == "data_plane":
        # The poll converges as the act does: a claim the alarm does not show yet is published again.
        try:
            claim_dns(req, req.target_region, result)
            if not result.done and not req.dry_run:
                require_writer(req, "DNS")
        except PreconditionFailed as exc:
            raise StepFailed(
                f"while this run waited for DNS to answer with {req.target_region}: {exc.message}"
            ) from exc
        result.done = result.done or req.dry_run
        return result
    change_id = req.params.get("change_id")
    if req.dry_run or not change_id:
        result.message = "no change to wait for"
        return result
    if "/" in change_id.removeprefix("/change/"):
        raise InputInvalid("step input", [f"change_id: {change_id!r} is not a Route 53 change id"])
    info = call(f"Route 53 change {change_id}", req.clients.route53(req.target_region).get_change, Id=change_id)[
        "ChangeInfo"
    ]
    result.before = result.after = {"change_id": change_id, "status": info["Status"]}
    result.done = info["Status"] == "INSYNC"
    result.message = f"change {change_id} is {info['Status']}"
    return result


def run(req: StepRequest) -> StepResult:
    return flip(req) if req.action == "flip" else status(req)
