"""The state machine's bookkeeping: validate the input and take the lock, ask for approval, record and notify."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from failover_controller.clients import ClientFactory
from failover_controller.config import ControllerConfig
from failover_controller.errors import InputInvalid, PreconditionFailed
from failover_controller.ledger import Ledger
from failover_controller.notify import compose, publish, subject_line
from failover_controller.observability import metrics
from failover_controller.plan_store import PlanStore
from failover_controller.run_context import RunContext, new_run, parse_start
from failover_controller.steps.base import require_home

OUTCOMES = ("succeeded", "reduced_capacity", "dry_run", "aborted", "rejected", "invalid", "failed")
# A run with one of these outcomes changed (or tried to change) the world: Detect's cooldown counts from it.
# "noop" (a succeeded run in which no step changed anything: it was already failed over) is not one of them.
COOLS_DOWN = ("succeeded", "reduced_capacity", "failed")
# Traffic moved to the target (it serves, at full or reduced capacity).
SERVES_TARGET = ("succeeded", "noop", "reduced_capacity")


def _ledger(config: ControllerConfig, factory: ClientFactory) -> Ledger:
    return Ledger(config.ledger_table, config.region, factory)


def validate_input(event: Any, config: ControllerConfig, factory: ClientFactory) -> dict[str, Any]:
    """ValidateInput: the first state. Bad input fails here, before anything is read or changed."""
    if not isinstance(event, dict) or not isinstance(event.get("execution"), str):
        raise InputInvalid("ValidateInput payload", ["must carry 'input' and 'execution' from the state machine"])
    start = parse_start(event.get("input"))
    require_home(start["target_region"], config.region)
    plan = PlanStore.of(config, factory).load(start["plan"])
    run = new_run(start, plan, execution=event["execution"], started_at=str(event.get("started_at", "")))
    ledger = _ledger(config, factory)
    if not run.dry_run:
        lock = ledger.acquire_lock(plan.application, run.execution, run.lock_ttl_seconds)
        if not lock.acquired:
            raise PreconditionFailed(
                f"another run of {plan.application} holds the lock: {lock.owner} (until "
                f"{datetime.fromtimestamp(lock.expires_at, UTC).isoformat()}); not starting a second one"
            )
    return run.to_dict()


def request_approval(event: Any, config: ControllerConfig, factory: ClientFactory) -> dict[str, Any]:
    """The approval gate: keep the task token where an operator's tool finds it, and ask people."""
    if not isinstance(event, dict) or not isinstance(event.get("task_token"), str):
        raise InputInvalid("approval request", ["task_token: is required"])
    run = RunContext.from_dict(event.get("run"))
    _ledger(config, factory).put(
        run.plan,
        f"APPROVAL#{run.execution}",
        {
            "task_token": event["task_token"],
            "requested_at": int(time.time()),
            "execution": run.execution,
            "target_region": run.target_region,
            "mode": run.mode,
            "expires_at": int(time.time()) + 7 * 86400,
        },
    )
    subject = subject_line(f"[failover-controller] {run.plan}: APPROVAL NEEDED to fail over to {run.target_region}")
    body = "\n".join(
        [
            f"A {run.mode} failover of {run.plan} from {run.source_region} to {run.target_region} waits for approval.",
            f"Execution: {run.execution}    Trigger: {run.trigger}",
            f"It times out in {run.approval_timeout_seconds} s.",
            "",
            'Approve:  aws stepfunctions send-task-success --task-output \'{"approved_by":"<you>"}\' '
            "--task-token <token>",
            "Reject:   aws stepfunctions send-task-failure --error ApprovalRejected --task-token <token>",
            f"The token is in the ledger table {config.ledger_table}: pk=PLAN#{run.plan}, sk=APPROVAL#{run.execution}.",
        ]
    )
    publish(factory, config.region, config.topic_arn, subject, body)
    return {"requested": True}


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return round((_instant(end) - _instant(start)).total_seconds(), 3)
    except ValueError:
        return None


def _instant(stamp: str) -> datetime:
    value = datetime.fromisoformat(stamp)  # Python 3.11 reads "Z" as UTC
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _finished_when_done(*steps: Any) -> str | None:
    """The finish of the first of ``steps`` that reported done."""
    for step in steps:
        if isinstance(step, dict) and step.get("done") is True and step.get("finished_at"):
            return str(step["finished_at"])
    return None


def milestones(results: dict[str, Any]) -> dict[str, str | None]:
    """When the runbook saw DNS answer with the target (the DNS poll that found it, or the flip that was already
    in place), and the standby at full capacity (its scale-up branch, else the poll after DNS)."""
    parallel = results.get("promote_and_scale") or {}
    return {
        "traffic_at": _finished_when_done(results.get("dns_poll"), results.get("flip_dns")),
        "full_capacity_at": _finished_when_done(parallel.get("scale_up_standby"), results.get("full_capacity")),
    }


def recovery_figures(run: RunContext, results: dict[str, Any]) -> dict[str, Any]:
    """From the first alarm (or the start of a manual run): time to traffic (DNS answering with the target), time
    to full capacity, and the achieved RTO (to verified); the RPO exposure at promotion (what an ungraceful
    promotion may have lost: the replication lag just before it), and each step's timing."""
    steps: dict[str, Any] = {}
    flat = dict(results)
    flat.update({k: v for k, v in (results.get("promote_and_scale") or {}).items() if isinstance(v, dict)})
    for name, step in flat.items():
        if isinstance(step, dict) and step.get("started_at"):
            steps[name] = {
                "started_at": step["started_at"],
                "finished_at": step.get("finished_at"),
                "duration_s": _seconds_between(step["started_at"], step.get("finished_at")),
                "changed": step.get("changed"),
            }
    clock_start = str(run.trigger.get("first_alarm_at") or run.trigger.get("time") or run.started_at)
    verified = (results.get("verify") or {}).get("finished_at")
    promote = flat.get("promote_aurora") or {}
    lag = promote.get("replication_lag_ms")
    if not promote:
        exposure, loss = None, "no promotion took place"
    elif not promote.get("data_loss_allowed"):
        exposure, loss = 0.0, "none: a graceful switchover waits for replication"
    elif lag is None:
        exposure, loss = None, "unknown: no replication lag datapoint before the promotion"
    else:
        exposure, loss = float(lag), f"up to {float(lag):.0f} ms of writes (replication lag at promotion)"
    seen = milestones(results)
    return {
        "traffic_s": _seconds_between(clock_start, seen["traffic_at"]),
        "full_capacity_s": _seconds_between(clock_start, seen["full_capacity_at"]),
        "achieved_rto_s": _seconds_between(clock_start, verified),
        "rto_target_s": run.rto_seconds,
        "rpo_exposure_ms": exposure,
        "rpo_target_ms": run.rpo_seconds * 1000,
        "data_loss": loss,
        "clock_started_at": clock_start,
        "step_timings": steps,
    }


def _changed_anything(results: dict[str, Any]) -> bool:
    """Whether any step of the run changed the world (the parallel branch's steps included)."""
    flat = [v for v in results.values() if isinstance(v, dict)]
    flat += [v for step in flat for v in step.values() if isinstance(v, dict)]
    return any(step.get("changed") is True for step in flat)


def _emit_metrics(run: RunContext, outcome: str, figures: dict[str, Any]) -> None:
    metrics.add_dimension(name="plan", value=run.plan)
    metrics.add_metric(name="FailoverRuns", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="FailoverSucceeded", unit=MetricUnit.Count, value=1 if outcome == "succeeded" else 0)
    metrics.add_metric(name="FailoverFailed", unit=MetricUnit.Count, value=1 if outcome == "failed" else 0)
    reduced = 1 if outcome == "reduced_capacity" else 0
    metrics.add_metric(name="FailoverReducedCapacity", unit=MetricUnit.Count, value=reduced)
    for key, name in (("achieved_rto_s", "AchievedRTO"), ("traffic_s", "TimeToTraffic")):
        if figures.get(key) is not None:
            metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=figures[key])
    if figures.get("full_capacity_s") is not None:
        metrics.add_metric(name="TimeToFullCapacity", unit=MetricUnit.Seconds, value=figures["full_capacity_s"])
    if figures.get("rpo_exposure_ms") is not None:
        metrics.add_metric(name="RPOExposure", unit=MetricUnit.Milliseconds, value=figures["rpo_exposure_ms"])


def record(event: Any, config: ControllerConfig, factory: ClientFactory) -> dict[str, Any]:
    """Write the run's outcome to the ledger, release the lock, and notify. Runs on every path."""
    if not isinstance(event, dict) or event.get("outcome") not in OUTCOMES:
        raise InputInvalid("record request", [f"outcome: must be one of {', '.join(OUTCOMES)}"])
    outcome: str = event["outcome"]
    if outcome == "succeeded" and not _changed_anything(event.get("results") or {}):
        outcome = "noop"  # already failed over: no recovery happened, so no RTO, no success, no cooldown
    summary = _summary(event, outcome)
    released, figures = False, {}
    if isinstance(event.get("run"), dict):
        run = RunContext.from_dict(event["run"])
        if not run.dry_run:
            figures = recovery_figures(run, event.get("results") or {})
            if outcome == "noop":
                figures.update(achieved_rto_s=None, traffic_s=None, full_capacity_s=None)
            summary.update(figures)
            _emit_metrics(run, outcome, figures)
        released = _write_ledger(
            _ledger(config, factory), run, event, outcome=outcome, summary=summary, figures=figures
        )
    subject, body = compose(outcome, summary)
    message_id = publish(factory, config.region, config.topic_arn, subject, body)
    return {
        "outcome": outcome,
        "lock_released": released,
        "notification": message_id,
        "subject": subject,
        "achieved_rto_s": figures.get("achieved_rto_s"),
        "traffic_s": figures.get("traffic_s"),
        "full_capacity_s": figures.get("full_capacity_s"),
        "rpo_exposure_ms": figures.get("rpo_exposure_ms"),
    }


def _summary(event: dict[str, Any], outcome: str) -> dict[str, Any]:
    """What the notification says: the run (or, for input that never became a run, the input), the error, what
    compensation could not do, and where traffic is now."""
    run_doc = event.get("run")
    summary: dict[str, Any] = dict(run_doc) if isinstance(run_doc, dict) else {}
    if not summary and isinstance(event.get("input"), dict):
        summary = {k: event["input"].get(k) for k in ("plan", "target_region", "mode", "dry_run", "trigger")}
        summary["execution"] = event.get("execution")
    summary["error"] = event.get("error")
    summary["failed_step"] = event.get("failed_step")
    compensation = event.get("compensation") or {}
    summary["needs_attention"] = list((compensation.get("after") or {}).get("needs_attention", []))
    if compensation.get("error"):
        failure = compensation["error"]
        summary["needs_attention"].append(
            f"compensation itself failed ({failure.get('Error')}): writes and DNS may not follow the Aurora writer; "
            f"{str(failure.get('Cause', ''))[:300]}"
        )
    if outcome in SERVES_TARGET:
        summary["traffic_region"] = summary.get("target_region")
    elif compensation.get("after", {}).get("writer_region"):
        summary["traffic_region"] = compensation["after"]["writer_region"]
    return summary


def _write_ledger(
    ledger: Ledger,
    run: RunContext,
    event: dict[str, Any],
    *,
    outcome: str,
    summary: dict[str, Any],
    figures: dict[str, Any],
) -> bool:
    """The run's ledger entry (and LAST_RUN, which Detect's cooldown counts from); returns whether the lock was
    released."""
    item = {
        "execution": run.execution,
        "outcome": outcome,
        "target_region": run.target_region,
        "source_region": run.source_region,
        "mode": run.mode,
        "dry_run": run.dry_run,
        "trigger": run.trigger,
        "started_at": run.started_at,
        "finished_at": int(time.time()),
        "error": event.get("error"),
        "failed_step": event.get("failed_step"),
        "steps": event.get("results"),
        "needs_attention": summary["needs_attention"],
        "traffic_region": summary.get("traffic_region"),
        **figures,
    }
    ledger.put(run.plan, f"RUN#{run.started_at}#{run.execution}", item)
    if outcome in COOLS_DOWN and not run.dry_run:
        ledger.put(run.plan, "LAST_RUN", item)
    return ledger.release_lock(run.plan, run.execution)
