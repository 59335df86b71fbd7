"""Pre-warm on suspicion: the standby's GPU capacity starts coming up at the first of the plan's alarms, while
detection is still deciding, and goes back when no failover follows.

New instances behind an endpoint take minutes, longer than anything else on the runbook's critical path; the
quorum's alarms do not fire together either. Starting the scale-up at the first alarm overlaps the two. What a
pre-warm may touch is bounded: the standby region's endpoints, toward the plan's ``active_instance_count`` (as
the runbook's scale-up: "at least", weights untouched, an autoscaled variant's MinCapacity raised with it), never
data nor DNS. One pre-warm per suspicion: the plan's ``PREWARM`` ledger item is created conditionally before
anything is changed, so a crash leaves a record for the sweep, never an untracked scale-up.

Detect's schedule sweeps (``SWEEP``): until ``prewarm_seconds`` have passed, each sweep sends the next variant's
capacity (SageMaker scales one variant per call); after them, a pre-warm that no run took over goes back to
the counts it found (MinCapacity too), and its extra instance-hours (what the false alarm cost) go to the ledger as
``PREWARM#<at>``. It never scales back while a run holds the lock, after a run has finished since the pre-warm
(that run's capacity is the runbook's business), or once writes go to this region.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from failover_controller.clients import ClientFactory
from failover_controller.config import DetectConfig
from failover_controller.errors import FailoverError
from failover_controller.ledger import Ledger
from failover_controller.plan import Endpoint, RecoveryPlan
from failover_controller.plan_store import PlanStore
from failover_controller.reads.parameters import write_region
from failover_controller.reads.sagemaker import Want
from failover_controller.results import StepResult
from failover_controller.steps.base import StepRequest
from failover_controller.steps.shift_sagemaker_traffic import converge, each_endpoint, hold_minimum, to_capacity

SK = "PREWARM"
SWEEP = {"prewarm": "sweep"}  # the schedule's constant input (template.yaml: DetectFunction's PrewarmSweep)
STEP = "prewarm"


def is_sweep(event: Any) -> bool:
    return bool(event == SWEEP)


def _request(plan: RecoveryPlan, region: str, factory: ClientFactory) -> StepRequest:
    return StepRequest(plan, region, "graceful", dry_run=False, action=STEP, clients=factory)


def _counts(result: StepResult) -> dict[str, dict[str, int]]:
    """Each endpoint's variants' instance counts as the pre-warm found them."""
    return {
        endpoint: {v: int(seen["current_instance_count"] or 0) for v, seen in state.get("variants", {}).items()}
        for endpoint, state in result.before.items()
        if isinstance(state, dict)
    }


def start(plan: RecoveryPlan, alarm: str, region: str, *, factory: ClientFactory, ledger: Ledger, now: float) -> str:
    """Start warming the standby (this region) for ``plan``; a sentence for Detect's decision. Errors are said,
    not raised: a pre-warm that cannot run must not hold up detection."""
    if write_region(plan, region, factory) == region:
        return ""  # the standby is the active region already: nothing to warm, nothing to scale back later
    record = {
        "at": int(now),
        "at_s": round(now, 3),  # to the millisecond, for the run's picture
        "until": int(now) + plan.prewarm_seconds,
        "alarm": alarm,
        "status": "warming",
    }
    if not ledger.create(plan.application, SK, record):
        return "; the standby is already warming"
    req = _request(plan, region, factory)
    try:
        result = to_capacity(req, region, req.result(STEP), active=True)
    except (FailoverError, ClientError, BotoCoreError) as exc:
        ledger.put(plan.application, SK, {**record, "counts": {}, "error": str(exc)[:500]})
        return f"; pre-warm of the standby failed, detection goes on: {exc}"
    ledger.put(plan.application, SK, {**record, "counts": _counts(result), "changed": result.changed})
    if not result.changed:
        return "; the standby's endpoints are at active capacity already"
    return (
        f"; pre-warm: the standby's endpoints started toward active capacity, back after {plan.prewarm_seconds} s "
        "unless a failover follows"
    )


def sweep(config: DetectConfig, factory: ClientFactory, now: float | None = None) -> dict[str, str]:
    """Every plan's pre-warm: left, retired or scaled back (one step at a time); what happened, by plan."""
    now = time.time() if now is None else now
    ledger = Ledger(config.ledger_table, config.region, factory)
    out = {}
    for name in config.plans:
        plan = PlanStore.of(config, factory).load(name)
        out[name] = _sweep_one(plan, config.region, factory, ledger, now)
    return out


def _sweep_one(plan: RecoveryPlan, region: str, factory: ClientFactory, ledger: Ledger, now: float) -> str:
    held = ledger.get_many(plan.application, [SK, "LOCK", "LAST_RUN"])
    item, lock, last = held.get(SK), held.get("LOCK"), held.get("LAST_RUN")
    if item is None:
        return "nothing pre-warmed"
    if lock and float(lock.get("expires_at", 0)) >= now:
        return f"run {lock.get('owner')} holds the lock: the standby's capacity is the runbook's"
    if last and float(last.get("finished_at", 0)) >= float(item["at"]):
        return _retire(ledger, plan, item, now, f"taken over by run {last.get('execution')} ({last.get('outcome')})")
    if write_region(plan, region, factory) == region:
        return _retire(ledger, plan, item, now, f"writes go to {region}: the standby is the active region")
    if now < float(item["until"]):
        return f"warm until {int(item['until'])} (epoch s) unless a failover follows" + _keep_warming(
            plan, region, factory, ledger, item
        )
    if item.get("changed") is False:
        return _retire(ledger, plan, item, now, "false alarm: the pre-warm had changed nothing")
    req = _request(plan, region, factory)
    result = each_endpoint(req, region, req.result(STEP), lambda e, part: _back(req, region, e, item, part))
    if not result.done:
        return f"false alarm: scaling the standby back ({result.message})"
    return _retire(ledger, plan, item, now, "false alarm: the standby is back at the counts it had")


def _keep_warming(plan: RecoveryPlan, region: str, factory: ClientFactory, ledger: Ledger, item: dict[str, Any]) -> str:
    """The pre-warm goes on: SageMaker scales one variant per call, so each sweep sends the next variant's capacity
    once the endpoint is InService again (the counts found at the start stay the ones to go back to)."""
    req = _request(plan, region, factory)
    try:
        result = to_capacity(req, region, req.result(STEP), active=True)
    except (FailoverError, ClientError, BotoCoreError) as exc:
        return f"; warming further failed: {exc}"
    if result.changed and not item.get("changed"):
        ledger.put(plan.application, SK, {**item, "changed": True})
    return f"; {result.message}" if result.changed else ""


def _back(req: StepRequest, region: str, endpoint: Endpoint, item: dict[str, Any], part: StepResult) -> StepResult:
    """One endpoint back to the counts the pre-warm found (the plan's standby counts when it recorded none)."""
    found = item.get("counts", {}).get(endpoint.endpoint_name) or {}
    counts = {v.variant_name: int(found.get(v.variant_name, v.standby_instance_count)) for v in endpoint.variants}
    hold_minimum(req, region, endpoint, counts, part, raise_only=False)

    def desired(seen: dict[str, Any]) -> dict[str, Want]:
        return {n: Want(float(seen["variants"][n]["current_weight"]), c, at_least=False) for n, c in counts.items()}

    return converge(req, region, endpoint, desired, part)


def _retire(ledger: Ledger, plan: RecoveryPlan, item: dict[str, Any], now: float, how: str) -> str:
    """The pre-warm's record: how it ended and the extra instance-hours it held (the false alarm's cost)."""
    extra = sum(
        max(0, v.active_instance_count - int(item.get("counts", {}).get(e.endpoint_name, {}).get(v.variant_name, 0)))
        for e in plan.endpoints[plan.standby_region]
        for v in e.variants
    )
    hours = round(extra * max(0.0, now - float(item["at"])) / 3600, 3) if item.get("changed") else 0.0
    ledger.put(
        plan.application,
        f"{SK}#{int(item['at'])}",
        {**item, "ended_at": int(now), "ended": how, "extra_instance_hours": hours},
    )
    ledger.delete(plan.application, SK)
    return f"{how}; {hours} extra instance-hours"
