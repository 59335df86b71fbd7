"""After a failure once changes began: leave the application consistent, whatever step failed.

The invariant: **writes and DNS follow the Aurora writer.** Never leave DNS (or the application's write
region) pointing at a region whose database is not writable. So compensation reads who the writer is now
and aligns the write-region parameter and the DNS records to that region, using the same idempotent code
as the steps. It does not move the database: a second promotion during an incident is a person's call.
A promotion still under way cannot be aligned to; that is reported as needing attention.
"""

from __future__ import annotations

from dataclasses import replace

from failover_controller.aws import call
from failover_controller.errors import FailoverError
from failover_controller.results import PlannedAction, StepResult
from failover_controller.steps import flip_dns, promote_aurora, switch_dynamodb_writes
from failover_controller.steps.base import StepRequest

STEP = "compensate"
ACTIONS = ("align",)
PARAMS: dict[str, type] = {}


def writer_region(seen: dict[str, object]) -> str | None:
    """The writer's region, from this region's DescribeGlobalClusters; None while an operation is under way."""
    region = seen.get("writer_region")
    return region if isinstance(region, str) and not seen.get("in_progress") else None


def align(req: StepRequest) -> StepResult:
    result = req.result(STEP)
    seen = promote_aurora.observe(req)
    writer = writer_region(seen)
    result.before = {"aurora": seen, "writer_region": writer}
    attention: list[str] = []
    if req.dry_run:
        result.message = "dry run: nothing was changed, nothing to compensate"
        return result
    if writer is None:
        attention.append("the Aurora promotion is still under way; align writes and DNS once it completes")
        result.after = {"writer_region": None, "needs_attention": attention}
        result.message = attention[0]
        return result

    # Writes: the home region's copy always; the other region's only while it is reachable (graceful).
    name = req.plan.write_region_parameter
    regions = [req.target_region] + ([req.source_region] if req.graceful else [])
    for region in regions:
        try:
            current = switch_dynamodb_writes.read_parameter(req, region)
            if current not in (None, writer):
                call(
                    f"SSM PutParameter {name} in {region}",
                    req.clients.ssm(region).put_parameter,
                    Name=name,
                    Value=writer,
                    Type="String",
                    Overwrite=True,
                )
                result.actions.append(
                    PlannedAction(
                        "ssm:PutParameter", region, {"Name": name, "Value": writer, "previous": current}, True
                    )
                )
        except FailoverError as exc:
            attention.append(f"write-region parameter in {region}: {exc.message}")

    # DNS toward the writer: the flip step's batch logic and checks, reading the writer from this region only.
    try:
        flipped = flip_dns.flip(replace(req, action="flip"), toward=writer)
        result.actions.extend(flipped.actions)
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


def run(req: StepRequest) -> StepResult:
    return align(req)
