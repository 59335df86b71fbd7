"""Every path of statemachines/failover.asl.json, run by moto's interpreter."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from tests.statemachine.harness import TABLE, Harness, Raise, inbox, ledger_item, step_result

START = {"plan": "recsys", "target_region": "us-west-2", "mode": "graceful", "dry_run": False, "poll_seconds": 0}
HAPPY = [
    "ValidateInput",
    "Preflight",
    "IsApprovalRequired",
    "PromoteAndScale",
    "SwitchDynamoDBWrites",
    "ShiftSageMakerWeights",
    "FlipDns",
    "IsDnsInSync",
    "WaitForDns",
    "CheckDns",
    "IsDnsDone",
    "CheckFullCapacity",
    "IsFullCapacity",
    "Verify",
    "DrainSource",
    "IsDryRun",
    "RecordSucceeded",
    "Done",
]


def test_happy_path_enters_every_state_in_order(sfn: Harness) -> None:
    arn = sfn.start(START)
    desc = sfn.wait(arn)
    assert desc["status"] == "SUCCEEDED"
    top_level = [s for s in sfn.entered(arn) if s in set(HAPPY)]
    assert top_level == HAPPY
    assert {"PromoteAurora", "ScaleUpStandby"} <= set(sfn.entered(arn))
    output = json.loads(desc["output"])
    assert output["record"]["outcome"] == "succeeded"
    assert output["record"]["lock_released"] is True
    runs = ledger_item("RUN#")
    assert [r["outcome"]["S"] for r in runs] == ["succeeded"]
    assert ledger_item("LOCK") == []
    messages = inbox()
    assert [m["Subject"] for m in messages] == ["[failover-controller] recsys: failover to us-west-2 SUCCEEDED"]
    assert "Traffic now: us-west-2" in messages[0]["Message"]
    assert "within the 900 s RTO" in messages[0]["Message"]
    assert "Data lost:   none: a graceful switchover waits for replication" in messages[0]["Message"]
    run = runs[0]
    assert float(run["achieved_rto_s"]["N"]) >= 0
    assert run["rto_target_s"]["N"] == "900"
    assert run["rpo_exposure_ms"]["N"] == "0.0"
    timings = run["step_timings"]["M"]
    assert {"preflight", "promote_aurora", "scale_up_standby", "switch_dynamodb_writes", "flip_dns", "verify"} <= set(
        timings
    )


def test_an_ungraceful_run_records_the_replication_lag_as_its_rpo_exposure(sfn: Harness) -> None:
    promoted = step_result(before={"replication_lag_ms": 750.0, "data_loss_allowed": True})
    sfn.script("PromoteAurora", promoted, action="promote")
    arn = sfn.start({**START, "mode": "ungraceful"})
    assert sfn.wait(arn)["status"] == "SUCCEEDED"
    run = ledger_item("RUN#")[0]
    assert run["rpo_exposure_ms"]["N"] == "750.0"
    assert "up to 750 ms of writes" in inbox()[0]["Message"]


def test_promote_aurora_is_given_the_writer_as_the_requester_and_preflight_saw_it(sfn: Harness) -> None:
    """The compare and swap's references reach PromoteAurora: the input's expected_writer (null when a run is started
    without it) and the writer Preflight saw."""
    sfn.script("Preflight", step_result(after={"verdicts": {"pass": 1}, "aurora_writer": "us-east-1"}))
    assert sfn.wait(sfn.start({**START, "expected_writer": "us-east-1"}, name="cas-1"))["status"] == "SUCCEEDED"
    sfn.script("Preflight", step_result(after={"verdicts": {"pass": 1}, "aurora_writer": "us-west-2"}))
    assert sfn.wait(sfn.start(START, name="cas-2"))["status"] == "SUCCEEDED"
    promotes = [p for f, p in sfn.calls if f == "PromoteAurora" and p["action"] == "promote"]
    assert [(p["expected_writer"], p["preflight_writer"]) for p in promotes] == [
        ("us-east-1", "us-east-1"),
        (None, "us-west-2"),
    ]


def action_states(entered: list[str]) -> list[str]:
    actions = {
        "PromoteAurora",
        "ScaleUpStandby",
        "SwitchDynamoDBWrites",
        "ShiftSageMakerWeights",
        "FlipDns",
        "DrainSource",
        "Compensate",
    }
    return [s for s in entered if s in actions]


def test_not_ready_aborts_before_any_action_and_notifies(sfn: Harness) -> None:
    sfn.script("Preflight", Raise("NotReady", "preflight: target region is not ready: aurora.replication_lag_ms"))
    arn = sfn.start(START)
    desc = sfn.wait(arn)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "NotReady"
    assert "nothing was changed" in desc["cause"]
    assert action_states(sfn.entered(arn)) == []
    assert "RecordAborted" in sfn.entered(arn)
    assert [r["outcome"]["S"] for r in ledger_item("RUN#")] == ["aborted"]
    assert ledger_item("LOCK") == []
    assert ledger_item("LAST_RUN") == []
    assert [m["Subject"] for m in inbox()] == [
        "[failover-controller] recsys: failover to us-west-2 ABORTED (not ready)"
    ]


FAILURES = [
    ("PromoteAurora", "promote", "PromoteAndScale"),
    ("ShiftSageMakerTraffic", "scale_target", "PromoteAndScale"),
    ("SwitchDynamoDBWrites", "switch", "SwitchDynamoDBWrites"),
    ("ShiftSageMakerTraffic", "shift_weights", "ShiftSageMakerWeights"),
    ("FlipDns", "flip", "FlipDns"),
    ("Verify", "check", "Verify"),
]


@pytest.mark.parametrize(("function", "action", "failed_state"), FAILURES)
def test_a_failing_action_step_is_compensated_recorded_and_fails_the_run(
    sfn: Harness, function: str, action: str, failed_state: str
) -> None:
    sfn.script(function, Raise("StepFailed", f"{function}: scripted permanent failure"), action=action)
    arn = sfn.start(START)
    desc = sfn.wait(arn)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "StepFailed"
    assert desc["cause"].startswith(f"{failed_state} failed; compensated: ")
    assert "scripted permanent failure" in desc["cause"]
    assert len(sfn.called(function, action)) == 1, "a permanent error is not retried"
    assert "Compensate" in sfn.entered(arn)
    assert len(sfn.called("Compensate")) == 1
    runs = ledger_item("RUN#")
    assert [r["outcome"]["S"] for r in runs] == ["failed"]
    assert runs[0]["failed_step"]["S"] == failed_state
    assert ledger_item("LAST_RUN")[0]["outcome"]["S"] == "failed"
    assert ledger_item("LOCK") == []
    messages = inbox()
    assert [m["Subject"] for m in messages] == ["[failover-controller] recsys: failover to us-west-2 FAILED"]
    assert f"Failed step: {failed_state}" in messages[0]["Message"]
    assert "Traffic now: us-east-1" in messages[0]["Message"]


def test_a_failing_compensation_still_records_and_fails(sfn: Harness) -> None:
    sfn.script("FlipDns", Raise("StepFailed", "flip_dns: boom"), action="flip")
    sfn.script("Compensate", Raise("StepFailed", "compensate: also boom"))
    arn = sfn.start(START)
    desc = sfn.wait(arn)
    assert desc["status"] == "FAILED"
    assert desc["cause"].startswith("FlipDns failed")
    runs = ledger_item("RUN#")
    assert [r["outcome"]["S"] for r in runs] == ["failed"]
    assert "compensation itself failed" in runs[0]["needs_attention"]["L"][0]["S"]
    assert ledger_item("LOCK") == []
    assert "NEEDS ATTENTION: compensation itself failed" in inbox()[0]["Message"]


def test_a_transient_error_is_retried_then_succeeds(sfn: Harness) -> None:
    sfn.script("SwitchDynamoDBWrites", Raise("TransientAwsError", "Throttling"), step_result())
    arn = sfn.start(START)
    assert sfn.wait(arn)["status"] == "SUCCEEDED"
    assert len(sfn.called("SwitchDynamoDBWrites")) == 2


def test_lambda_service_errors_are_retried_too(sfn: Harness) -> None:
    sfn.script("Verify", Raise("Lambda.ServiceException", "service fault"), step_result())
    arn = sfn.start(START)
    assert sfn.wait(arn)["status"] == "SUCCEEDED"
    assert len(sfn.called("Verify")) == 2


def test_poll_loops_wait_until_done(sfn: Harness) -> None:
    sfn.script("PromoteAurora", step_result(done=False), action="promote")
    sfn.script("PromoteAurora", step_result(done=False, changed=False), step_result(changed=False), action="status")
    arn = sfn.start(START)
    assert sfn.wait(arn)["status"] == "SUCCEEDED"
    assert len(sfn.called("PromoteAurora", "status")) == 2
    assert all(p["deadline"] > 0 for p in sfn.called("PromoteAurora", "status"))
    assert sfn.entered(arn).count("CheckAurora") == 2


def test_after_dns_the_standby_is_polled_to_full_capacity_before_verify(sfn: Harness) -> None:
    """Traffic moves at the plan's traffic capacity; the scale-up goes on, and Verify reads the standby only once it
    is at full capacity and weights."""
    sfn.script(
        "ShiftSageMakerTraffic",
        step_result(done=False),
        step_result(done=False, changed=False),
        step_result(changed=False),
        action="full_capacity",
    )
    arn = sfn.start(START)
    assert sfn.wait(arn)["status"] == "SUCCEEDED"
    entered = sfn.entered(arn)
    assert entered.count("CheckFullCapacity") == 3
    assert entered.index("FlipDns") < entered.index("WaitForFullCapacity") < entered.index("Verify")
    polls = sfn.called("ShiftSageMakerTraffic", "full_capacity")
    assert [p["deadline"] > 0 for p in polls] == [True, True, True]
    assert "capacity" not in sfn.called("Verify")[0], "verified at full capacity"


def test_traffic_moves_once_the_standby_is_ready_for_it_and_the_scale_up_goes_on(sfn: Harness) -> None:
    """An ungraceful run whose plan moves traffic at the standby's warm capacity: the scale-up's first call says
    ready, the branch ends without a poll, DNS moves, and the full capacity is polled after it."""
    sfn.script("ShiftSageMakerTraffic", step_result(done=False, ready_for_traffic=True), action="scale_target")
    sfn.script("ShiftSageMakerTraffic", step_result(done=False), lambda _p: step_result(), action="full_capacity")
    arn = sfn.start({**START, "mode": "ungraceful"})
    assert sfn.wait(arn)["status"] == "SUCCEEDED"
    entered = sfn.entered(arn)
    assert "CheckSageMaker" not in entered
    assert entered.index("FlipDns") < entered.index("CheckFullCapacity")
    run = ledger_item("RUN#")[0]
    assert float(run["traffic_s"]["N"]) <= float(run["full_capacity_s"]["N"]) <= float(run["achieved_rto_s"]["N"])


def test_writes_follow_the_database_not_the_capacity(sfn: Harness) -> None:
    """DynamoDB writes switch right after Aurora is writable, while the scale-up is still polled."""
    sfn.script("ShiftSageMakerTraffic", step_result(done=False, ready_for_traffic=False), action="scale_target")
    slow = [step_result(done=False, changed=False, ready_for_traffic=False) for _ in range(5)]
    sfn.script("ShiftSageMakerTraffic", *slow, step_result(changed=False), action="status")
    arn = sfn.start(START)
    assert sfn.wait(arn)["status"] == "SUCCEEDED"
    entered = sfn.entered(arn)
    last_poll = max(i for i, s in enumerate(entered) if s == "CheckSageMaker")
    assert entered.index("SwitchDynamoDBWrites") < last_poll
    assert entered.index("FlipDns") > last_poll, "traffic waits for the plan's traffic capacity (graceful: full)"


def test_a_standby_short_of_full_capacity_after_traffic_moved_keeps_traffic_and_says_so(sfn: Harness) -> None:
    short = "shift_sagemaker_traffic was still not done at the run's deadline: ranker has 1 of 4 instances"
    sfn.script("ShiftSageMakerTraffic", step_result(done=False, ready_for_traffic=True), action="scale_target")
    sfn.script("ShiftSageMakerTraffic", Raise("PollTimeout", short), action="full_capacity")
    arn = sfn.start({**START, "mode": "ungraceful"})
    desc = sfn.wait(arn)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "ReducedCapacity"
    assert "ranker has 1 of 4 instances" in desc["cause"]
    entered = sfn.entered(arn)
    assert "Compensate" not in entered, "traffic is not taken back to a dead region"
    assert "DrainSource" not in entered, "the source is never drained below full capacity"
    assert [p.get("capacity") for p in sfn.called("Verify")] == ["traffic"]
    run = ledger_item("RUN#")[0]
    assert run["outcome"]["S"] == "reduced_capacity"
    assert run["traffic_region"]["S"] == "us-west-2"
    assert "full_capacity_s" not in run, "never reached"
    assert ledger_item("LAST_RUN")[0]["outcome"]["S"] == "reduced_capacity", "the cooldown counts it"
    assert ledger_item("LOCK") == []
    message = inbox()[0]
    assert message["Subject"] == "[failover-controller] recsys: failover to us-west-2 SERVING AT REDUCED CAPACITY"
    assert "Traffic now: us-west-2" in message["Message"]
    assert "not full" in message["Message"]


def test_each_sagemaker_poll_gets_what_the_last_call_carried(sfn: Harness) -> None:
    """SageMaker stops showing a failed update's reason once the next update is applied: the scale-up's carry goes
    to the first poll, each poll's to the next."""
    first, second = {"failures": {"ranker": "first"}}, {"failures": {"ranker": "second"}}
    sfn.script("ShiftSageMakerTraffic", step_result(done=False, carry=first), action="scale_target")
    sfn.script(
        "ShiftSageMakerTraffic", step_result(done=False, carry=second), step_result(carry=second), action="status"
    )
    arn = sfn.start(START)
    assert sfn.wait(arn)["status"] == "SUCCEEDED"
    assert [p["carry"] for p in sfn.called("ShiftSageMakerTraffic", "status")] == [first, second]


def test_the_full_capacity_polls_get_what_the_scale_up_and_the_last_poll_carried(sfn: Harness) -> None:
    """After DNS, the scale-up goes on: the first full-capacity poll gets what the scale-up's branch carried (a
    rolled-back update's reason), each later poll the last one's, so the deadline can still say why."""
    first, second = {"failures": {"ranker": "first"}}, {"failures": {"ranker": "second"}}
    sfn.script(
        "ShiftSageMakerTraffic", step_result(done=False, ready_for_traffic=True, carry=first), action="scale_target"
    )
    polls = [step_result(done=False, carry=second), step_result(carry=second)]
    sfn.script("ShiftSageMakerTraffic", *polls, action="full_capacity")
    arn = sfn.start({**START, "mode": "ungraceful"})
    assert sfn.wait(arn)["status"] == "SUCCEEDED"
    assert [p["carry"] for p in sfn.called("ShiftSageMakerTraffic", "full_capacity")] == [first, second]


@pytest.mark.parametrize("where", ["scale_target", "status"])
def test_a_failed_scale_up_lets_a_promotion_under_way_finish_then_compensates(sfn: Harness, where: str) -> None:
    """A failure in one branch of a Parallel stops the other: the scale-up's is caught in its branch, so a promotion
    that began (FailoverGlobalCluster does not stop with the state machine) is followed to its end, and
    compensation then aligns writes and DNS with the writer it left, instead of finding it under way."""
    quota = Raise("StepFailed", "instance quota: us-west-2 refused ranker=4 instance(s)")
    if where == "status":
        sfn.script("ShiftSageMakerTraffic", step_result(done=False), action="scale_target")
    sfn.script("ShiftSageMakerTraffic", quota, action=where)
    sfn.script("PromoteAurora", step_result(done=False), action="promote")
    sfn.script("PromoteAurora", step_result(done=False), step_result(done=False), step_result(), action="status")
    arn = sfn.start(START)
    desc = sfn.wait(arn)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "StepFailed"
    assert desc["cause"].startswith("PromoteAndScale failed")
    assert "instance quota" in desc["cause"]
    assert len(sfn.called("PromoteAurora", "status")) == 3, "the promotion was followed to its end"
    entered = sfn.entered(arn)
    assert entered.index("Compensate") > max(i for i, s in enumerate(entered) if s == "CheckAurora")
    assert "SwitchDynamoDBWrites" in entered, "writes followed the database in its branch"
    assert not {"ShiftSageMakerWeights", "FlipDns"} & set(entered), "traffic did not move"


def test_a_poll_past_the_deadline_times_out_and_compensates(sfn: Harness) -> None:
    sfn.script("ShiftSageMakerTraffic", step_result(done=False), action="scale_target")
    sfn.script("ShiftSageMakerTraffic", Raise("PollTimeout", "shift_sagemaker_traffic: not done"), action="status")
    arn = sfn.start(START)
    desc = sfn.wait(arn)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "PollTimeout"
    assert desc["cause"].startswith("PromoteAndScale failed")
    assert "Compensate" in sfn.entered(arn)


def _approval_token(sfn: Harness, arn: str) -> str:
    """The token RequestApproval stored in the ledger, where an operator's tool finds it."""
    sfn.wait(arn, until="WaitForApproval")
    for _ in range(200):
        items = ledger_item("APPROVAL#")
        if items:
            return str(items[0]["task_token"]["S"])
        time.sleep(0.05)
    raise AssertionError("no approval request was recorded")


def test_approval_granted_continues_the_run(sfn: Harness) -> None:
    arn = sfn.start({**START, "require_approval": True})
    token = _approval_token(sfn, arn)
    assert action_states(sfn.entered(arn)) == []
    sfn.sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "oncall"}))
    desc = sfn.wait(arn)
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"])["approval"] == {"approved_by": "oncall"}
    subjects = [m["Subject"] for m in inbox()]
    assert subjects[0] == "[failover-controller] recsys: APPROVAL NEEDED to fail over to us-west-2"
    assert subjects[-1].endswith("SUCCEEDED")


def test_approval_rejected_changes_nothing(sfn: Harness) -> None:
    arn = sfn.start({**START, "require_approval": True})
    token = _approval_token(sfn, arn)
    sfn.sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause="not during the game")
    desc = sfn.wait(arn)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "ApprovalRejected"
    assert action_states(sfn.entered(arn)) == []
    assert [r["outcome"]["S"] for r in ledger_item("RUN#")] == ["rejected"]
    assert ledger_item("LOCK") == []


def test_dry_run_walks_the_whole_graph_reporting_only(sfn: Harness) -> None:
    arn = sfn.start({**START, "dry_run": True})
    desc = sfn.wait(arn)
    assert desc["status"] == "SUCCEEDED"
    step_calls = [p for f, p in sfn.calls if f not in {"ValidateInput", "Record", "RequestApproval"}]
    assert step_calls
    assert all(p["dry_run"] is True for p in step_calls)
    assert "RecordDryRun" in sfn.entered(arn)
    assert [r["outcome"]["S"] for r in ledger_item("RUN#")] == ["dry_run"]
    assert ledger_item("LAST_RUN") == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"mode": "sideways"}, "mode: must be one of graceful, ungraceful"),
        ({"dry_run": "yes"}, "dry_run: must be of type bool"),
        ({"target_region": "us-east-1"}, "only fails over into us-west-2"),
        ({"plan": "nope"}, "/failover-controller/plans/nope"),
        ({"surprise": 1}, "surprise: is not a known field"),
    ],
)
def test_bad_input_fails_in_the_first_state_and_changes_nothing(
    sfn: Harness, bad: dict[str, Any], message: str
) -> None:
    arn = sfn.start({**START, **bad})
    desc = sfn.wait(arn)
    assert desc["status"] == "FAILED"
    assert desc["error"] in {"InputInvalid", "PlanInvalid", "PreconditionFailed"}
    assert message in desc["cause"]
    assert sfn.entered(arn) == ["ValidateInput", "RecordInvalid", "InputRejected"]
    target, plan = bad.get("target_region", "us-west-2"), bad.get("plan", "recsys")
    assert [m["Subject"] for m in inbox()] == [f"[failover-controller] {plan}: failover to {target} INVALID INPUT"]
    assert ledger_item("LOCK") == []


def test_a_second_run_while_one_holds_the_lock_is_refused(sfn: Harness) -> None:
    boto3.client("dynamodb", region_name="us-west-2").put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": "PLAN#recsys"},
            "sk": {"S": "LOCK"},
            "owner": {"S": "recsys-earlier-run"},
            "acquired_at": {"N": "1"},
            "expires_at": {"N": "99999999999"},
        },
    )
    arn = sfn.start(START)
    desc = sfn.wait(arn)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "PreconditionFailed"
    assert "recsys-earlier-run" in desc["cause"]
    assert ledger_item("LOCK")[0]["owner"]["S"] == "recsys-earlier-run"
