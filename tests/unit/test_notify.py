"""The whole text of every notification kind, and the honest outcome of a run that changed nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover_controller.bookkeeping import record, request_approval
from failover_controller.clients import ClientFactory
from failover_controller.config import ControllerConfig
from failover_controller.ledger import Ledger
from failover_controller.notify import SUBJECT_MAX, compose
from failover_controller.observability import metrics
from failoverctl.drill import world
from tests.support.events import load_event

BASE = {
    "plan": "recsys",
    "target_region": "us-west-2",
    "source_region": "us-east-1",
    "mode": "ungraceful",
    "execution": "recsys-20261128T030405Z-0123456789",
    "trigger": {
        "type": "alarm",
        "alarm": "recsys-api-canary-use1",
        "alarm_region": "us-west-2",
        "in_alarm": ["recsys-api-canary-use1", "recsys-inference-canary-use1"],
        "first_alarm_at": "2026-11-28T03:02:00+00:00",
    },
}
HEAD = (
    "Plan:        recsys\n"
    "Outcome:     {outcome}\n"
    "Direction:   us-east-1 -> us-west-2 (ungraceful{dry})\n"
    "Execution:   recsys-20261128T030405Z-0123456789\n"
    "Trigger:     alarm recsys-api-canary-use1 in us-west-2 (in ALARM: recsys-api-canary-use1, "
    "recsys-inference-canary-use1), first alarm at 2026-11-28T03:02:00+00:00\n"
)


def head(outcome: str, dry: str = "") -> str:
    return HEAD.format(outcome=outcome, dry=dry)


def test_succeeded() -> None:
    subject, body = compose(
        "succeeded",
        {
            **BASE,
            "traffic_region": "us-west-2",
            "achieved_rto_s": 430.0,
            "traffic_s": 281.6,
            "full_capacity_s": 412.4,
            "rto_target_s": 900,
            "data_loss": "up to 750 ms of writes (replication lag at promotion)",
            "rpo_target_ms": 60000,
        },
    )
    assert subject == "[failover-controller] recsys: failover to us-west-2 SUCCEEDED"
    assert body == head("succeeded") + (
        "Traffic now: us-west-2\n"
        "Traffic:     282 s from the first alarm to DNS answering with the target (within the 900 s RTO)\n"
        "Capacity:    412 s from the first alarm to the standby at full capacity (within the 900 s RTO)\n"
        "Data lost:   up to 750 ms of writes (replication lag at promotion) (RPO 60000 ms)\n"
        "\n"
        "Next: Watch the application's dashboards in us-west-2. Fail back later with a graceful run started from "
        "us-east-1 once it is healthy and replication has caught up."
    )


def test_succeeded_over_the_rto() -> None:
    _, body = compose("succeeded", {**BASE, "traffic_s": 1201.0, "full_capacity_s": 1300.0, "rto_target_s": 900})
    assert "Traffic:     1201 s from the first alarm to DNS answering with the target (OVER the 900 s RTO)\n" in body
    assert "Capacity:    1300 s from the first alarm to the standby at full capacity (OVER the 900 s RTO)\n" in body
    assert body.endswith("dashboards in us-west-2. Fail back later with a graceful run started from us-east-1 "
                         "once it is healthy and replication has caught up.")  # fmt: skip


def test_noop() -> None:
    subject, body = compose("noop", {**BASE, "traffic_region": "us-west-2"})
    assert subject == "[failover-controller] recsys: failover to us-west-2 NOTHING TO DO (already there)"
    assert body == head("noop") + (
        "Traffic now: us-west-2\n"
        "\n"
        "Next: Nothing was changed: the database, writes, inference and DNS already were in us-west-2."
    )


def test_dry_run() -> None:
    subject, body = compose("dry_run", {**BASE, "dry_run": True})
    assert subject == "[failover-controller] recsys: failover to us-west-2 DRY RUN"
    assert body == head("dry_run", ", dry run") + (
        "\nNext: Nothing was changed. Read the step results in the execution history for what a real run would do."
    )


def test_aborted() -> None:
    error = {"Error": "NotReady", "Cause": "preflight: target region is not ready: aurora.replication_lag_ms ..."}
    subject, body = compose("aborted", {**BASE, "error": error})
    assert subject == "[failover-controller] recsys: failover to us-west-2 ABORTED (not ready)"
    assert body == head("aborted") + (
        "Error:       NotReady: preflight: target region is not ready: aurora.replication_lag_ms ...\n"
        "\n"
        "Next: Nothing was changed: us-west-2 is not ready. Fix the failing checks, or fail over another way."
    )


def test_rejected_and_invalid() -> None:
    manual = {**BASE, "trigger": {"type": "manual", "by": "oncall@example.com", "reason": "us-east-1 degraded"}}
    subject, body = compose("rejected", manual)
    assert subject == "[failover-controller] recsys: failover to us-west-2 REJECTED"
    assert "Trigger:     manual start by oncall@example.com: us-east-1 degraded\n" in body
    assert body.endswith("\nNext: Nothing was changed: the failover was not approved.")
    subject, body = compose("invalid", manual)
    assert subject == "[failover-controller] recsys: failover to us-west-2 INVALID INPUT"
    assert body.endswith("\nNext: Nothing was changed: the input or the plan is invalid. Correct it and start again.")


def test_failed() -> None:
    subject, body = compose(
        "failed",
        {
            **BASE,
            "failed_step": "FlipDns",
            "error": {"Error": "StepFailed", "Cause": "flip_dns: Route 53 change in zone Z: Throttling"},
            "traffic_region": "us-west-2",
            "needs_attention": ["DNS toward us-west-2: no answer"],
        },
    )
    assert subject == "[failover-controller] recsys: failover to us-west-2 FAILED"
    assert body == head("failed") + (
        "Failed step: FlipDns\n"
        "Error:       StepFailed: flip_dns: Route 53 change in zone Z: Throttling\n"
        "Traffic now: us-west-2\n"
        "NEEDS ATTENTION: DNS toward us-west-2: no answer\n"
        "\n"
        "Next: Compensation aligned writes and DNS to the Aurora writer where it could. Read 'needs attention' "
        "below and the execution history before starting again."
    )


def test_subjects_stay_under_100_characters_without_control_characters() -> None:
    long_plan = "a" * 63
    subject, _ = compose("noop", {**BASE, "plan": long_plan, "target_region": "ap-southeast-5\n"})
    assert len(subject) <= SUBJECT_MAX < 100
    assert "\n" not in subject
    assert subject.endswith("...")


# Record: the ledger, the metrics and the notification of one run, against moto.

TOPIC = "failover-notifications"


@pytest.fixture
def controller() -> Iterator[tuple[ControllerConfig, ClientFactory]]:
    with mock_aws():
        f = ClientFactory()
        world.create_ledger_table(f, "us-west-2", "ledger")
        arn = f.client("sns", "us-west-2").create_topic(Name=TOPIC)["TopicArn"]
        yield ControllerConfig("us-west-2", world.PLAN_PREFIX, 0, "ledger", arn), f


def sent(f: ClientFactory) -> list[dict[str, Any]]:
    from moto.sns.models import sns_backends  # noqa: PLC0415 - moto's inbox, not an AWS API

    return [
        {"subject": m[2], "body": m[1]} for m in sns_backends["123456789012"]["us-west-2"].topics[
            f"arn:aws:sns:us-west-2:123456789012:{TOPIC}"
        ].sent_notifications
    ]  # fmt: skip


def unchanged(event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    for step in [event["results"]["verify"], *event["results"]["promote_and_scale"].values()]:
        step["changed"] = False
    event["results"]["flip_dns"] = {"changed": False, "done": True, "message": "DNS already sends traffic"}
    return event


def test_a_run_that_changed_nothing_is_a_noop_not_a_success(controller: tuple[ControllerConfig, ClientFactory]) -> None:
    config, f = controller
    metrics.clear_metrics()
    out = record(unchanged(load_event("record")), config, f)
    assert out["outcome"] == "noop"
    assert out["achieved_rto_s"] is None
    ledger = Ledger("ledger", "us-west-2", f)
    runs = ledger.runs("recsys")
    assert [r["outcome"] for r in runs] == ["noop"]
    assert "achieved_rto_s" not in runs[0]
    assert ledger.get("recsys", "LAST_RUN") is None, "a no-op does not restart Detect's cooldown"
    emitted = json.loads(json.dumps(metrics.serialize_metric_set()))
    assert emitted["FailoverSucceeded"] == [0.0]
    assert "AchievedRTO" not in emitted
    assert [m["subject"] for m in sent(f)] == [
        "[failover-controller] recsys: failover to us-west-2 NOTHING TO DO (already there)"
    ]


def test_a_run_that_changed_something_succeeds(controller: tuple[ControllerConfig, ClientFactory]) -> None:
    config, f = controller
    out = record(load_event("record"), config, f)
    assert out["outcome"] == "succeeded"
    assert out["achieved_rto_s"] == 371.0
    assert Ledger("ledger", "us-west-2", f).get("recsys", "LAST_RUN") is not None


def test_the_approval_request_names_how_to_answer(controller: tuple[ControllerConfig, ClientFactory]) -> None:
    config, f = controller
    request_approval(load_event("request_approval"), config, f)
    [message] = sent(f)
    assert message["subject"] == "[failover-controller] recsys: APPROVAL NEEDED to fail over to us-west-2"
    assert "send-task-success" in message["body"]
    assert "sk=APPROVAL#recsys-manual-20261128T030000Z" in message["body"]
    assert boto3.client("dynamodb", region_name="us-west-2").scan(TableName="ledger")["Count"] == 1
