"""Notifications people read at 3 a.m.: what happened, where traffic is now, what to do next."""

from __future__ import annotations

import re
from typing import Any

from failover_controller.aws import call
from failover_controller.clients import ClientFactory

# SNS: "UTF-8 text with no line breaks or control characters, and less than 100 characters long".
SUBJECT_MAX = 99
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

HEADLINES = {
    "succeeded": "SUCCEEDED",
    "reduced_capacity": "SERVING AT REDUCED CAPACITY",
    "noop": "NOTHING TO DO (already there)",
    "dry_run": "DRY RUN",
    "aborted": "ABORTED (not ready)",
    "rejected": "REJECTED",
    "invalid": "INVALID INPUT",
    "failed": "FAILED",
}
NEXT_STEPS = {
    "succeeded": "Watch the application's dashboards in {target}. Fail back later with a graceful run started "
    "from {source} once it is healthy and replication has caught up.",
    "reduced_capacity": "Traffic is in {target} and stays there, but the standby did not reach the plan's active "
    "capacity (the error above says what it has and why). Raise the instance quota or wait for capacity, then bring "
    "each variant to its active count (UpdateEndpointWeightsAndCapacities, one variant per call).",
    "noop": "Nothing was changed: the database, writes, inference and DNS already were in {target}.",
    "dry_run": "Nothing was changed. Read the step results in the execution history for what a real run would do.",
    "aborted": "Nothing was changed: {target} is not ready. Fix the failing checks, or fail over another way.",
    "rejected": "Nothing was changed: the failover was not approved.",
    "invalid": "Nothing was changed: the input or the plan is invalid. Correct it and start again.",
    "failed": "Compensation aligned writes and DNS to the Aurora writer where it could. Read 'needs attention' "
    "below and the execution history before starting again.",
}


def subject_line(text: str) -> str:
    """A subject SNS accepts: control characters folded to spaces, under 100 characters."""
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 3] + "..."


def describe_trigger(trigger: Any) -> str:
    if not isinstance(trigger, dict):
        return "manual start"
    if trigger.get("type") != "alarm":
        by = f" by {str(trigger['by'])[:100]}" if trigger.get("by") else ""
        reason = f": {str(trigger['reason'])[:200]}" if trigger.get("reason") else ""
        return f"manual start{by}{reason}"
    quorum = ", ".join(trigger.get("in_alarm") or [])
    return (
        f"alarm {trigger.get('alarm')} in {trigger.get('alarm_region')}"
        + (f" (in ALARM: {quorum})" if quorum else "")
        + (f", first alarm at {trigger['first_alarm_at']}" if trigger.get("first_alarm_at") else "")
    )


def compose(outcome: str, summary: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of the notification for one run's outcome."""
    plan = summary.get("plan", "?")
    target = summary.get("target_region", "?")
    source = summary.get("source_region", "?")
    subject = subject_line(f"[failover-controller] {plan}: failover to {target} {HEADLINES.get(outcome, outcome)}")
    dry_run = ", dry run" if summary.get("dry_run") else ""
    lines = [
        f"Plan:        {plan}",
        f"Outcome:     {outcome}",
        f"Direction:   {source} -> {target} ({summary.get('mode', '?')}{dry_run})",
        f"Execution:   {summary.get('execution', '?')}",
        f"Trigger:     {describe_trigger(summary.get('trigger'))}",
    ]
    if summary.get("failed_step"):
        lines.append(f"Failed step: {summary['failed_step']}")
    if summary.get("error"):
        lines.append(f"Error:       {summary['error'].get('Error')}: {str(summary['error'].get('Cause', ''))[:600]}")
    if summary.get("traffic_region"):
        lines.append(f"Traffic now: {summary['traffic_region']}")
    lines += recovery_lines(summary)
    if summary.get("data_loss"):
        lines.append(f"Data lost:   {summary['data_loss']} (RPO {summary.get('rpo_target_ms')} ms)")
    for item in summary.get("needs_attention", []):
        lines.append(f"NEEDS ATTENTION: {item}")
    lines += ["", "Next: " + NEXT_STEPS.get(outcome, "").format(target=target, source=source)]
    return subject, "\n".join(lines)


def recovery_lines(summary: dict[str, Any]) -> list[str]:
    """The two recovery figures against the RTO: time to traffic, and time to full capacity."""
    target = summary.get("rto_target_s")
    lines = []
    for key, label, what in (
        ("traffic_s", "Traffic:", "DNS answering with the target"),
        ("full_capacity_s", "Capacity:", "the standby at full capacity"),
    ):
        if summary.get(key) is not None:
            verdict = "within" if target is None or summary[key] <= target else "OVER"
            figure = f"{summary[key]:.0f} s from the first alarm to {what}"
            lines.append(f"{label:<12} {figure} ({verdict} the {target} s RTO)")
    if summary.get("traffic_s") is not None and summary.get("full_capacity_s") is None:
        lines.append("Capacity:    not full: the standby serves below the plan's active capacity")
    return lines


def publish(factory: ClientFactory, region: str, topic_arn: str, subject: str, body: str) -> str:
    response = call(
        f"SNS publish to {topic_arn}",
        factory.client("sns", region).publish,
        TopicArn=topic_arn,
        Subject=subject_line(subject),
        Message=body,
    )
    return str(response["MessageId"])
