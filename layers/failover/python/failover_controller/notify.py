"""Notifications people read at 3 a.m.: what happened, where traffic is now, what to do next."""

from __future__ import annotations

from typing import Any

from failover_controller.aws import call
from failover_controller.clients import ClientFactory

NEXT_STEPS = {
    "succeeded": "Watch the application's dashboards in {target}. Fail back later with a graceful run started "
    "from {source} once it is healthy and replication has caught up.",
    "dry_run": "Nothing was changed. Read the step results in the execution history for what a real run would do.",
    "aborted": "Nothing was changed: {target} is not ready. Fix the failing checks, or fail over another way.",
    "rejected": "Nothing was changed: the failover was not approved.",
    "invalid": "Nothing was changed: the input or the plan is invalid. Correct it and start again.",
    "failed": "Compensation aligned writes and DNS to the Aurora writer where it could. Read 'needs attention' "
    "below and the execution history before starting again.",
}


def compose(outcome: str, summary: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of the notification for one run's outcome."""
    plan = summary.get("plan", "?")
    target = summary.get("target_region", "?")
    source = summary.get("source_region", "?")
    subject = f"[failover-controller] {plan}: failover to {target} {outcome.upper()}"[:100]
    dry_run = ", dry run" if summary.get("dry_run") else ""
    lines = [
        f"Plan:        {plan}",
        f"Outcome:     {outcome}",
        f"Direction:   {source} -> {target} ({summary.get('mode', '?')}{dry_run})",
        f"Execution:   {summary.get('execution', '?')}",
        f"Trigger:     {summary.get('trigger', {})}",
    ]
    if summary.get("failed_step"):
        lines.append(f"Failed step: {summary['failed_step']}")
    if summary.get("error"):
        lines.append(f"Error:       {summary['error'].get('Error')}: {summary['error'].get('Cause', '')[:600]}")
    if summary.get("traffic_region"):
        lines.append(f"Traffic now: {summary['traffic_region']}")
    if summary.get("achieved_rto_s") is not None:
        rto, target = summary["achieved_rto_s"], summary.get("rto_target_s")
        verdict = "within" if target is None or rto <= target else "OVER"
        lines.append(f"Recovery:    {rto:.0f} s from the first alarm to DNS verified ({verdict} the {target} s RTO)")
    if summary.get("data_loss"):
        lines.append(f"Data lost:   {summary['data_loss']} (RPO {summary.get('rpo_target_ms')} ms)")
    for item in summary.get("needs_attention", []):
        lines.append(f"NEEDS ATTENTION: {item}")
    lines += ["", "Next: " + NEXT_STEPS.get(outcome, "").format(target=target, source=source)]
    return subject, "\n".join(lines)


def publish(factory: ClientFactory, region: str, topic_arn: str, subject: str, body: str) -> str:
    response = call(
        f"SNS publish to {topic_arn}",
        factory.client("sns", region).publish,
        TopicArn=topic_arn,
        Subject=subject,
        Message=body,
    )
    return str(response["MessageId"])
