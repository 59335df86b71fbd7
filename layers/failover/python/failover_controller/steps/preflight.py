"""Is the target region ready to take over? Every check is run and reported; nothing is changed.

A failing check raises NotReady naming every failing check. ``unknown`` (no data to judge by) is reported
and does not block, except where the mode needs the data (graceful mode needs the replication lag, and both
regions to answer). In graceful mode a region that answered with throttling or 5xx past the SDK's retries is
browned out, not gone: the step raises TransientAwsError, and the state machine's Retry runs it again. In
ungraceful mode the source region is assumed unreachable and is not consulted. The checks themselves are in
``failover_controller.checks``, one module per service.
"""

from __future__ import annotations

from failover_controller.checks import BROWNED_OUT, NO_ANSWER, artifacts, aurora, dynamodb, route53, sagemaker
from failover_controller.errors import NotReady, TransientAwsError
from failover_controller.results import StepResult
from failover_controller.steps.base import StepRequest

STEP = "preflight"
ACTIONS = ("check",)
PARAMS: dict[str, type] = {"force_beyond_rpo": bool}


def check(req: StepRequest) -> StepResult:
    result: StepResult = req.result(STEP)
    result.checks = (
        aurora.checks(req)
        + dynamodb.checks(req)
        + dynamodb.latency_checks(req)
        + sagemaker.checks(req)
        + artifacts.checks(req)
        + route53.checks(req)
    )
    if req.graceful:
        # A switchover needs both regions: a browned-out one is asked again (the step's Retry), and one that does not
        # answer makes graceful impossible, not merely unknown.
        busy = [
            f"{c.name} {c.resource}"
            for c in result.checks
            if c.verdict == "unknown" and c.detail.startswith(BROWNED_OUT)
        ]
        if busy:
            raise TransientAwsError(
                f"preflight: a graceful switchover needs every check answered; {len(busy)} answered with throttling "
                f"or 5xx past the SDK's retries ({'; '.join(busy)}): the checks are run again",
                answered=True,
            )
        for c in result.checks:
            if c.verdict == "unknown" and c.detail.startswith(NO_ANSWER):
                c.verdict = "fail"
                c.detail += (
                    f"; a graceful switchover needs both regions to answer (ungraceful if {req.source_region} is down)"
                )
    failing = [
        f"{c.name} {c.resource}: {c.detail or f'observed {c.observed!r}, wanted {c.threshold!r}'}"
        for c in result.checks
        if c.verdict == "fail"
    ]
    counts = {v: sum(c.verdict == v for c in result.checks) for v in ("pass", "fail", "unknown", "skipped")}
    # The writer as this run saw it: PromoteAurora promotes only while it is still there.
    writer = next((c.observed for c in result.checks if c.name == "aurora.writer"), None)
    result.before = result.after = {"verdicts": counts, "aurora_writer": writer}
    if failing:
        raise NotReady(failing, [c.__dict__ for c in result.checks])
    result.message = f"{req.target_region} is ready: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    return result


def run(req: StepRequest) -> StepResult:
    return check(req)
