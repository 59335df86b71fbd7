"""The run's bookkeeping on moto: ValidateInput takes the plan's lock (never in a dry run) and binds the run to the
plan; Record writes the ledger, starts Detect's cooldown only after a run that changed or tried to change the
world, releases the lock and says where traffic is."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from failover_controller.bookkeeping import record, recovery_figures, request_approval, validate_input
from failover_controller.clients import ClientFactory
from failover_controller.config import ControllerConfig
from failover_controller.errors import InputInvalid, PreconditionFailed
from failover_controller.ledger import Ledger
from failover_controller.observability import metrics
from failover_controller.plan import parse_plan
from failover_controller.run_context import RunContext, new_run, parse_start
from failoverctl.drill import world
from tests.support.events import load_event


@pytest.fixture
def controller(plan_doc: dict[str, Any]) -> Iterator[tuple[ControllerConfig, ClientFactory]]:
    with mock_aws():
        f = ClientFactory()
        world.create_ledger_table(f, "us-west-2", "ledger")
        world.store_plan(parse_plan(plan_doc), f)
        arn = f.client("sns", "us-west-2").create_topic(Name="failover")["TopicArn"]
        yield ControllerConfig("us-west-2", world.PLAN_PREFIX, 0, "ledger", arn), f


def sent(f: ClientFactory) -> list[dict[str, Any]]:
    from moto.sns.models import sns_backends  # noqa: PLC0415 - moto's inbox, not an AWS API

    topic = sns_backends["123456789012"]["us-west-2"].topics["arn:aws:sns:us-west-2:123456789012:failover"]
    return [{"subject": m[2], "body": m[1]} for m in topic.sent_notifications]


def start(**changes: Any) -> dict[str, Any]:
    event = load_event("validate_input")
    event["input"].update(changes)
    return event


def ledger(f: ClientFactory) -> Ledger:
    return Ledger("ledger", "us-west-2", f)


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
@pytest.mark.parametrize("approval", [True, False])
def test_a_run_is_bound_to_its_plan_and_takes_the_lock(
    controller: tuple[ControllerConfig, ClientFactory], mode: str, approval: bool
) -> None:
    config, f = controller
    run = validate_input(start(mode=mode, require_approval=approval, poll_seconds=7), config, f)
    waits = 900 if approval else 0
    assert {k: run[k] for k in ("plan", "target_region", "source_region", "mode", "dry_run")} == {
        "plan": "recsys",
        "target_region": "us-west-2",
        "source_region": "us-east-1",
        "mode": mode,
        "dry_run": False,
    }
    assert (run["require_approval"], run["approval_timeout_seconds"], run["poll_seconds"]) == (approval, waits, 7)
    assert (run["rto_seconds"], run["rpo_seconds"]) == (900, 60)
    lock = ledger(f).get("recsys", "LOCK")
    assert lock is not None
    assert lock["owner"] == "recsys-manual-20261128T030000Z"
    assert int(lock["expires_at"]) - run["deadline"] == 900, "the lock outlives the deadline by one RTO"


def test_a_dry_run_takes_no_lock_and_is_not_refused_by_one(controller: tuple[ControllerConfig, ClientFactory]) -> None:
    config, f = controller
    assert ledger(f).acquire_lock("recsys", "recsys-other-run", 3600).acquired
    run = validate_input(start(dry_run=True), config, f)
    assert run["dry_run"] is True
    assert ledger(f).get("recsys", "LOCK")["owner"] == "recsys-other-run"  # type: ignore[index]


def test_a_second_run_is_refused_while_one_holds_the_lock(controller: tuple[ControllerConfig, ClientFactory]) -> None:
    config, f = controller
    now = time.time()
    assert ledger(f).acquire_lock("recsys", "recsys-other-run", 3600, now=now).acquired
    until = datetime.fromtimestamp(int(now) + 3600, UTC).isoformat()
    with pytest.raises(PreconditionFailed) as e:
        validate_input(start(), config, f)
    assert str(e.value) == (
        f"another run of recsys holds the lock: recsys-other-run (until {until}); not starting a second one"
    )


def test_a_run_into_another_region_or_with_bad_input_changes_nothing(
    controller: tuple[ControllerConfig, ClientFactory],
) -> None:
    config, f = controller
    with pytest.raises(PreconditionFailed, match="only fails over into us-west-2"):
        validate_input(start(target_region="us-east-1"), config, f)
    with pytest.raises(InputInvalid, match="must carry 'input' and 'execution'"):
        validate_input({"input": {}}, config, f)
    with pytest.raises(InputInvalid, match="poll_seconds: must be between 0 and 300, got 301"):
        validate_input(start(poll_seconds=301), config, f)
    assert ledger(f).get("recsys", "LOCK") is None


def recorded(outcome: str, *, dry_run: bool = False, **extra: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("record"))
    event["outcome"] = outcome
    event["run"]["dry_run"] = dry_run
    event.update(extra)
    return event


@pytest.mark.parametrize(("outcome", "cools_down"), [("succeeded", True), ("failed", True), ("aborted", False)])
def test_the_cooldown_counts_only_from_runs_that_changed_or_tried_to(
    controller: tuple[ControllerConfig, ClientFactory], outcome: str, cools_down: bool
) -> None:
    config, f = controller
    run = RunContext.from_dict(load_event("record")["run"])
    assert ledger(f).acquire_lock("recsys", run.execution, 3600).acquired
    out = record(recorded(outcome), config, f)
    assert (out["outcome"], out["lock_released"]) == (outcome, True)
    assert ledger(f).get("recsys", "LOCK") is None
    last = ledger(f).get("recsys", "LAST_RUN")
    assert (last is not None) == cools_down
    (entry,) = ledger(f).runs("recsys")
    assert (entry["execution"], entry["outcome"], entry["mode"]) == (run.execution, outcome, "graceful")


def test_a_dry_run_is_recorded_without_cooldown_or_figures(controller: tuple[ControllerConfig, ClientFactory]) -> None:
    config, f = controller
    out = record(recorded("dry_run", dry_run=True), config, f)
    assert (out["outcome"], out["achieved_rto_s"], out["rpo_exposure_ms"]) == ("dry_run", None, None)
    assert ledger(f).get("recsys", "LAST_RUN") is None
    (entry,) = ledger(f).runs("recsys")
    assert "achieved_rto_s" not in entry


def test_a_failed_run_says_where_compensation_left_traffic_and_what_needs_a_person(
    controller: tuple[ControllerConfig, ClientFactory],
) -> None:
    config, f = controller
    event = recorded(
        "failed",
        failed_step="FlipDns",
        error={"Error": "StepFailed", "Cause": "boom"},
        compensation={"after": {"writer_region": "us-east-1", "needs_attention": ["DNS toward us-east-1: denied"]}},
    )
    record(event, config, f)
    (entry,) = ledger(f).runs("recsys")
    assert (entry["traffic_region"], entry["failed_step"]) == ("us-east-1", "FlipDns")
    assert entry["needs_attention"] == ["DNS toward us-east-1: denied"]


def test_a_compensation_that_failed_itself_is_named(controller: tuple[ControllerConfig, ClientFactory]) -> None:
    config, f = controller
    event = recorded("failed", compensation={"error": {"Error": "States.Timeout", "Cause": "x" * 1000}})
    record(event, config, f)
    (entry,) = ledger(f).runs("recsys")
    (attention,) = entry["needs_attention"]
    assert attention.startswith("compensation itself failed (States.Timeout): writes and DNS may not follow")
    assert attention.endswith("x" * 300)
    assert len(attention) < 400
    assert entry.get("traffic_region") is None


def test_an_unknown_outcome_records_nothing(controller: tuple[ControllerConfig, ClientFactory]) -> None:
    config, f = controller
    with pytest.raises(InputInvalid, match="outcome: must be one of succeeded, reduced_capacity, dry_run, aborted"):
        record(recorded("maybe"), config, f)
    assert ledger(f).runs("recsys") == []


# The recovery figures: the RTO clock and the RPO exposure of each kind of promotion.


def figures(promote: dict[str, Any] | None, trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    event = load_event("record")
    run = RunContext.from_dict({**event["run"], "trigger": trigger or event["run"]["trigger"]})
    results = copy.deepcopy(event["results"])
    if promote is None:
        results.pop("promote_and_scale")
    else:
        results["promote_and_scale"]["promote_aurora"].update(promote)
    return recovery_figures(run, results)


def test_the_rpo_exposure_of_each_kind_of_promotion() -> None:
    assert figures({"data_loss_allowed": False})["rpo_exposure_ms"] == 0.0
    ungraceful = figures({"data_loss_allowed": True, "replication_lag_ms": 830.4})
    assert (ungraceful["rpo_exposure_ms"], ungraceful["data_loss"]) == (
        830.4,
        "up to 830 ms of writes (replication lag at promotion)",
    )
    unknown = figures({"data_loss_allowed": True, "replication_lag_ms": None})
    assert (unknown["rpo_exposure_ms"], unknown["data_loss"]) == (
        None,
        "unknown: no replication lag datapoint before the promotion",
    )
    none = figures(None)
    assert (none["rpo_exposure_ms"], none["data_loss"]) == (None, "no promotion took place")
    assert none["rpo_target_ms"] == 60_000


def test_the_rto_clock_starts_at_the_first_alarm_else_the_event_else_the_run() -> None:
    assert (
        figures({}, {"type": "alarm", "first_alarm_at": "2026-11-28T03:01:00Z", "time": "x"})["achieved_rto_s"] == 311
    )
    assert figures({}, {"type": "alarm", "time": "2026-11-28T03:02:00+00:00"})["achieved_rto_s"] == 251
    manual = figures({}, {"type": "manual"})
    assert (manual["achieved_rto_s"], manual["clock_started_at"]) == (371.0, "2026-11-28T03:00:00.000Z")
    timings = manual["step_timings"]
    assert timings["promote_aurora"] == {
        "started_at": "2026-11-28T03:00:05+00:00",
        "finished_at": "2026-11-28T03:00:06+00:00",
        "duration_s": 1.0,
        "changed": True,
    }
    assert manual["rto_target_s"] == 900


def test_time_to_traffic_and_to_full_capacity_are_read_from_the_steps_that_saw_them() -> None:
    manual = figures({}, {"type": "manual"})
    assert (manual["traffic_s"], manual["full_capacity_s"]) == (300.0, 360.0)
    event = load_event("record")
    run = RunContext.from_dict(event["run"])
    results = copy.deepcopy(event["results"])
    results["promote_and_scale"]["scale_up_standby"] = {"done": True, "finished_at": "2026-11-28T03:04:00+00:00"}
    assert recovery_figures(run, results)["full_capacity_s"] == 240.0, "full before traffic: the branch saw it"
    results["dns_poll"]["done"] = False
    results["flip_dns"] = {"done": True, "finished_at": "2026-11-28T03:04:30+00:00"}
    assert recovery_figures(run, results)["traffic_s"] == 270.0, "DNS already answering when flipped"
    results["full_capacity"]["done"] = False
    results["promote_and_scale"]["scale_up_standby"]["done"] = False
    assert recovery_figures(run, results)["full_capacity_s"] is None, "never reached: reduced capacity"


def test_a_reduced_capacity_run_keeps_traffic_in_the_target_and_cools_down(
    controller: tuple[ControllerConfig, ClientFactory],
) -> None:
    config, f = controller
    event = recorded("reduced_capacity")
    event["results"]["full_capacity"]["done"] = False
    event["error"] = {"Error": "PollTimeout", "Cause": "ranker has 1 of 4 instances"}
    out = record(event, config, f)
    assert out["outcome"] == "reduced_capacity"
    assert (out["traffic_s"], out["full_capacity_s"]) == (300.0, None)
    (entry,) = ledger(f).runs("recsys")
    assert (entry["outcome"], entry["traffic_region"]) == ("reduced_capacity", "us-west-2")
    assert (ledger(f).get("recsys", "LAST_RUN") or {}).get("outcome") == "reduced_capacity", "the cooldown counts it"


# The run context: defaults for what a manual start leaves out, and names AWS accepts.


def test_a_minimal_start_gets_the_safe_defaults(plan_doc: dict[str, Any]) -> None:
    plan = parse_plan(plan_doc)
    run = new_run({"plan": "recsys", "target_region": "us-west-2"}, plan, execution="r-1", started_at="s", now=1000)
    assert run.to_dict() == {
        "plan": "recsys",
        "target_region": "us-west-2",
        "source_region": "us-east-1",
        "mode": "graceful",
        "dry_run": False,
        "require_approval": False,
        "force_beyond_rpo": False,
        "poll_seconds": 15,
        "approval_timeout_seconds": 0,
        "deadline": 1900,
        "execution": "r-1",
        "started_at": "s",
        "rto_seconds": 900,
        "rpo_seconds": 60,
        "trigger": {"type": "manual"},
        "expected_writer": None,
    }


def test_every_field_of_a_start_reaches_the_run(plan_doc: dict[str, Any]) -> None:
    start = {
        "plan": "recsys",
        "target_region": "us-west-2",
        "mode": "ungraceful",
        "dry_run": True,
        "require_approval": True,
        "force_beyond_rpo": True,
        "poll_seconds": 0,
        "trigger": {"type": "alarm", "alarm": "a"},
        "expected_writer": "us-east-1",
    }
    run = new_run(start, parse_plan(plan_doc), execution="r-2", started_at="s", now=1000)
    assert run.expected_writer == "us-east-1"
    assert (run.mode, run.dry_run, run.require_approval, run.force_beyond_rpo, run.poll_seconds) == (
        "ungraceful",
        True,
        True,
        True,
        0,
    )
    assert (run.trigger, run.approval_timeout_seconds, run.deadline) == ({"type": "alarm", "alarm": "a"}, 900, 2800)


def test_an_expected_writer_outside_the_plan_is_named(plan_doc: dict[str, Any]) -> None:
    start = {"plan": "recsys", "target_region": "us-west-2", "expected_writer": "eu-west-1"}
    with pytest.raises(InputInvalid) as e:
        new_run(start, parse_plan(plan_doc), execution="r-3", started_at="")
    assert str(e.value) == (
        "failover input is invalid: expected_writer: 'eu-west-1' is not one of the plan's regions "
        "(us-east-1, us-west-2)"
    )
    with pytest.raises(InputInvalid, match="expected_writer: must be of type str, got int"):
        parse_start({**start, "expected_writer": 1})


@pytest.mark.parametrize("name", ["has space", "", "x" * 81, "a/b"])
def test_an_execution_name_step_functions_refuses_is_named(plan_doc: dict[str, Any], name: str) -> None:
    with pytest.raises(InputInvalid) as e:
        new_run({"plan": "recsys", "target_region": "us-west-2"}, parse_plan(plan_doc), execution=name, started_at="")
    assert str(e.value) == f"failover input is invalid: execution name {name!r} is not a Step Functions name"


def test_validate_input_keeps_when_the_run_started(controller: tuple[ControllerConfig, ClientFactory]) -> None:
    config, f = controller
    assert validate_input(start(dry_run=True), config, f)["started_at"] == "2026-11-28T03:00:00.000Z"
    event = start(dry_run=True)
    del event["started_at"]
    assert validate_input(event, config, f)["started_at"] == ""


@pytest.mark.parametrize("event", [None, [], {"input": {}}, {"execution": 7}])
def test_a_validate_input_payload_without_its_fields_is_refused(
    controller: tuple[ControllerConfig, ClientFactory], event: Any
) -> None:
    config, f = controller
    with pytest.raises(InputInvalid) as e:
        validate_input(event, config, f)
    assert str(e.value) == (
        "ValidateInput payload is invalid: must carry 'input' and 'execution' from the state machine"
    )


# The approval gate.


def test_the_approval_request_keeps_the_token_where_an_operator_finds_it(
    controller: tuple[ControllerConfig, ClientFactory],
) -> None:
    config, f = controller
    before = int(time.time())
    assert request_approval(load_event("request_approval"), config, f) == {"requested": True}
    item = ledger(f).get("recsys", "APPROVAL#recsys-manual-20261128T030000Z")
    assert item is not None
    assert {k: item[k] for k in ("task_token", "execution", "target_region", "mode")} == {
        "task_token": "AQCEAAAAKgAAAAMAAAAAAAAAAexampletasktoken",
        "execution": "recsys-manual-20261128T030000Z",
        "target_region": "us-west-2",
        "mode": "graceful",
    }
    assert before <= item["requested_at"] <= int(time.time())
    assert item["expires_at"] - item["requested_at"] == 7 * 86400
    (message,) = sent(f)
    assert message["body"].splitlines() == [
        "A graceful failover of recsys from us-east-1 to us-west-2 waits for approval.",
        "Execution: recsys-manual-20261128T030000Z    Trigger: "
        "{'type': 'manual', 'by': 'oncall@example.com', 'reason': 'us-east-1 degraded, planned switchover'}",
        "It times out in 900 s.",
        "",
        'Approve:  aws stepfunctions send-task-success --task-output \'{"approved_by":"<you>"}\' --task-token <token>',
        "Reject:   aws stepfunctions send-task-failure --error ApprovalRejected --task-token <token>",
        "The token is in the ledger table ledger: pk=PLAN#recsys, sk=APPROVAL#recsys-manual-20261128T030000Z.",
    ]


@pytest.mark.parametrize("event", [None, {"run": {}}, {"task_token": 5}])
def test_an_approval_request_without_a_token_asks_nobody(
    controller: tuple[ControllerConfig, ClientFactory], event: Any
) -> None:
    config, f = controller
    with pytest.raises(InputInvalid) as e:
        request_approval(event, config, f)
    assert str(e.value) == "approval request is invalid: task_token: is required"
    assert sent(f) == []


# What Record says and counts.


def test_a_succeeded_run_is_served_from_its_target_and_counted(
    controller: tuple[ControllerConfig, ClientFactory],
) -> None:
    config, f = controller
    metrics.clear_metrics()
    out = record(recorded("succeeded"), config, f)
    (entry,) = ledger(f).runs("recsys")
    assert (entry["traffic_region"], entry["achieved_rto_s"], entry["rpo_exposure_ms"]) == ("us-west-2", 371, 0)
    assert (out["traffic_s"], out["full_capacity_s"]) == (300.0, 360.0)
    emitted = json.loads(json.dumps(metrics.serialize_metric_set()))
    assert (emitted["plan"], emitted["AchievedRTO"], emitted["RPOExposure"]) == ("recsys", [371.0], [0.0])
    assert (emitted["FailoverRuns"], emitted["FailoverSucceeded"], emitted["FailoverFailed"]) == ([1.0], [1.0], [0.0])
    assert (emitted["TimeToTraffic"], emitted["TimeToFullCapacity"]) == ([300.0], [360.0])
    assert emitted["FailoverReducedCapacity"] == [0.0]


def test_a_reduced_capacity_run_is_counted_as_such_with_no_time_to_full_capacity(
    controller: tuple[ControllerConfig, ClientFactory],
) -> None:
    config, f = controller
    metrics.clear_metrics()
    event = recorded("reduced_capacity")
    event["results"]["full_capacity"]["done"] = False
    record(event, config, f)
    emitted = json.loads(json.dumps(metrics.serialize_metric_set()))
    assert (emitted["FailoverReducedCapacity"], emitted["FailoverSucceeded"], emitted["FailoverFailed"]) == (
        [1.0],
        [0.0],
        [0.0],
    )
    assert emitted["TimeToTraffic"] == [300.0]
    assert "TimeToFullCapacity" not in emitted


def test_an_unknown_exposure_and_no_verification_are_not_counted(
    controller: tuple[ControllerConfig, ClientFactory],
) -> None:
    config, f = controller
    metrics.clear_metrics()
    event = recorded("failed")
    event["results"].pop("verify")
    event["results"]["promote_and_scale"]["promote_aurora"].update(data_loss_allowed=True, replication_lag_ms=None)
    record(event, config, f)
    emitted = json.loads(json.dumps(metrics.serialize_metric_set()))
    assert "AchievedRTO" not in emitted
    assert "RPOExposure" not in emitted
    assert (emitted["FailoverSucceeded"], emitted["FailoverFailed"]) == ([0.0], [1.0])


def test_a_run_whose_only_change_was_outside_the_parallel_branch_succeeded(
    controller: tuple[ControllerConfig, ClientFactory],
) -> None:
    config, f = controller
    event = recorded("succeeded")
    event["results"]["promote_and_scale"]["promote_aurora"]["changed"] = False
    event["results"]["flip_dns"] = {"changed": True, "started_at": "2026-11-28T03:05:00+00:00"}
    assert record(event, config, f)["outcome"] == "succeeded"


def test_the_cause_of_a_failed_compensation_is_cut_at_300_characters(
    controller: tuple[ControllerConfig, ClientFactory],
) -> None:
    config, f = controller
    record(recorded("failed", compensation={"error": {"Error": "E", "Cause": "y" * 301}}), config, f)
    second = recorded("failed", compensation={"error": {"Error": "E"}})
    second["run"]["execution"] = "recsys-second-run"
    record(second, config, f)
    prefix = "compensation itself failed (E): writes and DNS may not follow the Aurora writer; "
    assert sorted(r["needs_attention"][0] for r in ledger(f).runs("recsys")) == [prefix, prefix + "y" * 300]


def test_durations_are_kept_to_the_millisecond_and_an_unfinished_step_has_none() -> None:
    event = load_event("record")
    run = RunContext.from_dict(event["run"])
    results = {
        "flip_dns": {"started_at": "2026-11-28T03:05:00.0001+00:00", "finished_at": "2026-11-28T03:05:01.00049"},
        "verify": {"started_at": "2026-11-28T03:06:00Z"},
    }
    timings = recovery_figures(run, results)["step_timings"]
    assert timings["flip_dns"]["duration_s"] == 1.0
    assert timings["verify"]["duration_s"] is None
    assert recovery_figures(run, results)["achieved_rto_s"] is None
    results["flip_dns"]["finished_at"] = "2026-11-28T03:05:01.4006Z"
    assert recovery_figures(run, results)["step_timings"]["flip_dns"]["duration_s"] == 1.401


def test_a_graceful_promotion_loses_nothing() -> None:
    assert figures({"data_loss_allowed": False})["data_loss"] == "none: a graceful switchover waits for replication"


# The state machine's input: every problem named once, in the words an operator can act on.


def test_every_problem_of_a_start_is_named_once() -> None:
    with pytest.raises(InputInvalid) as e:
        parse_start(
            {
                "plan": 5,
                "target_region": 7,
                "mode": "sideways",
                "dry_run": "no",
                "require_approval": 1,
                "poll_seconds": True,
                "trigger": "pager",
                "colour": "red",
            }
        )
    assert e.value.problems == [
        "colour: is not a known field",
        "plan: is required and must be a non-empty string",
        "target_region: is required and must be a non-empty string",
        "dry_run: must be of type bool, got str",
        "require_approval: must be of type bool, got int",
        "poll_seconds: must be of type int, got bool",
        "trigger: must be of type dict, got str",
        "mode: must be one of graceful, ungraceful, got 'sideways'",
    ]
    assert str(e.value).startswith("failover input is invalid: colour: is not a known field; ")


@pytest.mark.parametrize(("poll", "ok"), [(-1, False), (0, True), (300, True), (301, False)])
def test_the_poll_interval_is_between_0_and_300_seconds(poll: int, ok: bool) -> None:
    start = {"plan": "recsys", "target_region": "us-west-2", "poll_seconds": poll}
    if ok:
        assert parse_start(start) == start
    else:
        with pytest.raises(
            InputInvalid, match=f"^failover input is invalid: poll_seconds: must be between 0 and 300, got {poll}$"
        ):
            parse_start(start)


@pytest.mark.parametrize("start", [None, ["plan"], "recsys"])
def test_a_start_that_is_not_an_object_names_its_type(start: Any) -> None:
    with pytest.raises(InputInvalid) as e:
        parse_start(start)
    assert str(e.value) == f"failover input is invalid: (input): must be a JSON object, got {type(start).__name__}"


def test_a_run_context_that_is_not_one_is_named() -> None:
    with pytest.raises(InputInvalid) as e:
        RunContext.from_dict("run")
    assert str(e.value) == "run context is invalid: (input): must be a JSON object, got str"
    with pytest.raises(InputInvalid) as e:
        RunContext.from_dict({"plan": "recsys"})
    assert str(e.value).startswith("run context is invalid: RunContext.__init__() missing 13 required positional")


# What Record writes and says, field by field.


def test_input_that_never_became_a_run_is_described_from_its_fields(
    controller: tuple[ControllerConfig, ClientFactory],
) -> None:
    config, f = controller
    event = {
        "outcome": "invalid",
        "execution": "recsys-bad-start",
        "input": {
            "plan": "recsys",
            "target_region": "us-west-2",
            "mode": "sideways",
            "dry_run": True,
            "trigger": {"type": "manual", "by": "oncall@example.com"},
        },
        "failed_step": "ValidateInput",
        "error": {"Error": "InputInvalid", "Cause": "mode: must be one of graceful, ungraceful"},
    }
    out = record(event, config, f)
    assert (out["outcome"], out["lock_released"]) == ("invalid", False)
    assert ledger(f).runs("recsys") == []
    (message,) = sent(f)
    assert "InputInvalid" in message["body"]
    lines = message["body"].splitlines()
    assert lines[0] == "Plan:        recsys"
    assert lines[2] == "Direction:   ? -> us-west-2 (sideways, dry run)"
    assert lines[3] == "Execution:   recsys-bad-start"
    assert "oncall@example.com" in lines[4]
    assert "Failed step: ValidateInput" in lines


def test_a_run_is_described_from_the_run_not_from_its_input(
    controller: tuple[ControllerConfig, ClientFactory],
) -> None:
    config, f = controller
    record(recorded("failed", input={"plan": "other", "target_region": "eu-west-1"}), config, f)
    (message,) = sent(f)
    assert message["body"].splitlines()[:3] == [
        "Plan:        recsys",
        "Outcome:     failed",
        "Direction:   us-east-1 -> us-west-2 (graceful)",
    ]


def test_the_ledger_entry_of_a_run_in_full(controller: tuple[ControllerConfig, ClientFactory]) -> None:
    config, f = controller
    event = recorded("failed", error={"Error": "StepFailed", "Cause": "boom"}, failed_step="FlipDns")
    before = int(time.time())
    out = record(event, config, f)
    (entry,) = ledger(f).runs("recsys")
    run = event["run"]
    assert {k: entry[k] for k in ("target_region", "source_region", "dry_run", "trigger", "started_at")} == {
        "target_region": "us-west-2",
        "source_region": "us-east-1",
        "dry_run": False,
        "trigger": run["trigger"],
        "started_at": run["started_at"],
    }
    assert before <= entry["finished_at"] <= int(time.time())
    assert entry["error"] == {"Error": "StepFailed", "Cause": "boom"}
    assert entry["steps"]["promote_and_scale"]["promote_aurora"]["message"] == "rds:SwitchoverGlobalCluster started"
    (message,) = sent(f)
    assert out["subject"] == message["subject"]
    assert out["notification"]
    assert out["rpo_exposure_ms"] == 0.0
    assert "Failed step: FlipDns" in message["body"].splitlines()


def test_a_noop_says_traffic_is_where_it_already_was(controller: tuple[ControllerConfig, ClientFactory]) -> None:
    config, f = controller
    event = recorded("succeeded")
    for step in [event["results"]["verify"], *event["results"]["promote_and_scale"].values()]:
        step["changed"] = False
    out = record(event, config, f)
    (entry,) = ledger(f).runs("recsys")
    assert (entry["outcome"], entry["traffic_region"]) == ("noop", "us-west-2")
    assert (out["achieved_rto_s"], out["traffic_s"], out["full_capacity_s"]) == (None, None, None), "no recovery"


def test_an_unknown_outcome_is_named_exactly(controller: tuple[ControllerConfig, ClientFactory]) -> None:
    config, f = controller
    with pytest.raises(InputInvalid) as e:
        record({"outcome": "maybe"}, config, f)
    assert str(e.value) == (
        "record request is invalid: outcome: must be one of succeeded, reduced_capacity, dry_run, aborted, rejected, "
        "invalid, failed"
    )


def test_durations_across_offsets_are_measured_in_utc() -> None:
    run = RunContext.from_dict(load_event("record")["run"])
    results = {"flip_dns": {"started_at": "2026-11-28T05:00:00+02:00", "finished_at": "2026-11-28T03:00:10Z"}}
    assert recovery_figures(run, results)["step_timings"]["flip_dns"]["duration_s"] == 10.0
