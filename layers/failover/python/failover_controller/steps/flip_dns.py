"""Send the plan's DNS names to the target region.

weighted: the target's record set gets the plan's active weight, the source's 0.
failover: the target's record set becomes PRIMARY, the source's SECONDARY.
Every record of the plan changes in one ChangeResourceRecordSets batch (atomic); values, TTLs, alias targets
and health checks of the existing record sets are kept. ``status`` reports when the change is INSYNC.
"""

from __future__ import annotations

from failover_controller.aws import call
from failover_controller.changes import point_dns
from failover_controller.errors import InputInvalid
from failover_controller.results import StepResult
from failover_controller.steps.base import StepRequest

STEP = "flip_dns"
ACTIONS = ("flip", "status")
PARAMS: dict[str, type] = {"change_id": str, "deadline": int}


def flip(req: StepRequest) -> StepResult:
    return point_dns(req, req.target_region, req.result(STEP))


def status(req: StepRequest) -> StepResult:
    result = req.result(STEP)
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
