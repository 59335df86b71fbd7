"""After a failure once changes began: leave the application consistent, whatever step failed.

The invariant: **writes and DNS follow the Aurora writer.** Never leave DNS (or the application's write
region) pointing at a region whose database is not writable. So compensation reads who the writer is now
and aligns the write-region parameter and the DNS records to that region, using the same idempotent code
as the steps. It does not move the database: a second promotion during an incident is a person's call.
A promotion still under way cannot be aligned to; that is reported as needing attention.
"""

from __future__ import annotations

from failover_controller.changes import point_dns, put_write_region
from failover_controller.errors import FailoverError
from failover_controller.reads.aurora import global_cluster, settled_writer_region
from failover_controller.reads.parameters import write_region
from failover_controller.results import PlannedAction, StepResult
from failover_controller.steps.base import StepRequest

STEP = "compensate"
ACTIONS = ("align",)
PARAMS: dict[str, type] = {}


def align(req: StepRequest) -> StepResult:
    result = req.result(STEP)
    seen = global_cluster(req)
    writer = settled_writer_region(seen)
    result.before = {"aurora": seen, "writer_region": writer}
    if req.dry_run:
        result.message = "dry run: nothing was changed, nothing to compensate"
        return result
    if writer is None:
        attention = ["the Aurora promotion is still under way; align writes and DNS once it completes"]
        result.after = {"writer_region": None, "needs_attention": attention}
        result.message = attention[0]
        return result
    attention = _align_writes(req, writer, result)
    # DNS toward the writer: the flip step's batch logic and checks, reading the writer from this region only.
    try:
        result.actions.extend(point_dns(req, writer, req.result(STEP)).actions)
    except FailoverError as exc:
        attention.append(f"DNS toward {writer}: {exc.message}")
    result.changed = any(a.performed for a in result.actions)
    result.after = {"writer_region": writer, "needs_attention": attention}
    result.message = (
        f"writes and DNS aligned to the Aurora writer in {writer}"
        if not attention
        else "compensation incomplete: " + "; ".join(attention)
    )
    return result


def _align_writes(req: StepRequest, writer: str, result: StepResult) -> list[str]:
    """The home region's copy of the write-region parameter always; the other's only while it answers (graceful)."""
    attention = []
    name = req.plan.write_region_parameter
    for region in [req.target_region] + ([req.source_region] if req.graceful else []):
        try:
            current = write_region(req.plan, region, req.clients)
            if current not in (None, writer):
                put_write_region(req, region, writer)
                result.actions.append(
                    PlannedAction(
                        "ssm:PutParameter", region, {"Name": name, "Value": writer, "previous": current}, True
                    )
                )
        except FailoverError as exc:
            attention.append(f"write-region parameter in {region}: {exc.message}")
    return attention


def run(req: StepRequest) -> StepResult:
    return align(req)
