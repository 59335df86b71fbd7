from __future__ import annotations

from typing import Any

import pytest

from failover_controller.bookkeeping import recovery_figures
from failover_controller.clients import ClientFactory
from failover_controller.config import ConfigError, StepConfig
from failover_controller.errors import InputInvalid, PlanInvalid, PollTimeout, PreconditionFailed
from failover_controller.plan import load_plan_file
from failover_controller.results import StepResult
from failover_controller.run_context import RunContext, new_run, parse_start
from failover_controller.steps import flip_dns, promote_aurora
from failover_controller.steps.base import enforce_deadline, make_request, parse_step_input
from failover_controller.steps.registry import STEP_NAMES, load_step
from tests.support.events import EVENTS, SAMPLE_PLAN, load_event


def test_every_event_file_parses_for_its_step() -> None:
    controller = ("detect_", "start_", "readiness_", "validate_input", "request_approval", "record")
    files = sorted(p for p in EVENTS.glob("*.json") if not p.stem.startswith(controller))
    assert {name for name in STEP_NAMES if any(p.stem.startswith(name) for p in files)} == set(STEP_NAMES), (
        "every step has a sample event"
    )
    for path in files:
        step = load_step(next(name for name in STEP_NAMES if path.stem.startswith(name)))
        parsed = parse_step_input(load_event(path.stem), actions=step.actions, params=step.params)
        assert parsed.plan == "recsys"


def test_every_problem_of_a_step_input_is_named() -> None:
    event: dict[str, Any] = {
        "target_region": "",
        "mode": "sideways",
        "dry_run": "yes",
        "action": "explode",
        "extra": 1,
        "change_id": 7,
    }
    with pytest.raises(InputInvalid) as info:
        parse_step_input(event, actions=flip_dns.ACTIONS, params=flip_dns.PARAMS)
    assert info.value.problems == [
        "extra: is not a known field",
        "plan: is required and must be a non-empty string",
        "target_region: is required and must be a non-empty string",
        "mode: must be one of graceful, ungraceful, got 'sideways'",
        "dry_run: must be true or false, got 'yes'",
        "action: must be one of flip, status, got 'explode'",
        "change_id: must be of type str, got int",
    ]
    assert str(info.value) == "step input is invalid: " + "; ".join(info.value.problems)


@pytest.mark.parametrize("event", [None, [], "promote", 1])
def test_a_step_input_that_is_not_an_object_is_refused(event: Any) -> None:
    with pytest.raises(InputInvalid, match="must be a JSON object"):
        parse_step_input(event, actions=promote_aurora.ACTIONS)


def test_defaults_are_graceful_not_dry_run_and_the_first_action() -> None:
    parsed = parse_step_input({"plan": "recsys", "target_region": "us-west-2"}, actions=promote_aurora.ACTIONS)
    assert (parsed.mode, parsed.dry_run, parsed.action) == ("graceful", False, "promote")


def test_a_controller_only_fails_over_into_its_own_region() -> None:
    plan = load_plan_file(SAMPLE_PLAN)
    parsed = parse_step_input(load_event("promote_aurora"), actions=promote_aurora.ACTIONS)
    with pytest.raises(PreconditionFailed, match="runs in us-east-1 and only fails over into us-east-1"):
        make_request(parsed, plan, home_region="us-east-1", clients=ClientFactory())
    other = parse_step_input(load_event("promote_aurora", target_region="eu-west-1"), actions=promote_aurora.ACTIONS)
    with pytest.raises(PlanInvalid, match="not one of the plan's regions"):
        make_request(other, plan, home_region="eu-west-1", clients=ClientFactory())


def test_config_names_each_bad_variable() -> None:
    with pytest.raises(ConfigError) as info:
        StepConfig.from_env({"AWS_REGION": "mars", "PLAN_PARAMETER_PREFIX": "plans/", "PLAN_CACHE_SECONDS": "x"})
    message = str(info.value)
    assert "AWS_REGION" in message
    assert "PLAN_PARAMETER_PREFIX" in message
    assert "PLAN_CACHE_SECONDS" in message
    config = StepConfig.from_env({"AWS_REGION": "us-west-2"})
    assert config.plan_parameter_prefix == "/failover-controller/plans"
    assert config.plan_cache_seconds == 300


def test_client_factory_caches_per_service_and_region_with_standard_retries() -> None:
    factory = ClientFactory()
    assert factory.ssm("us-west-2") is factory.ssm("us-west-2")
    assert factory.ssm("us-west-2") is not factory.ssm("us-east-1")
    assert factory.rds("us-east-1").meta.region_name == "us-east-1"
    for client in (factory.rds("us-east-1"), factory.ssm("us-east-1")):
        retries: dict[str, Any] = client.meta.config.retries  # type: ignore[attr-defined]
        assert retries == {"mode": "standard", "total_max_attempts": 6}
    with pytest.raises(ValueError, match="region is required"):
        factory.client("rds", "")


def test_the_manual_start_sample_is_valid_input() -> None:
    start = parse_start(load_event("start_failover"))
    plan = load_plan_file(SAMPLE_PLAN)
    run = new_run(start, plan, execution="manual-1", started_at="2026-11-28T03:00:00Z", now=1_000)
    assert (run.target_region, run.source_region, run.mode) == ("us-west-2", "us-east-1", "graceful")
    assert run.require_approval
    assert run.approval_timeout_seconds == plan.rto_seconds
    assert run.deadline == 1_000 + 2 * plan.rto_seconds
    assert run.lock_ttl_seconds == 3 * plan.rto_seconds


def test_the_controller_functions_sample_events_are_valid() -> None:
    assert parse_start(load_event("validate_input")["input"])["plan"] == "recsys"
    for name in ("request_approval", "record"):
        assert RunContext.from_dict(load_event(name)["run"]).execution == "recsys-manual-20261128T030000Z"
    assert load_event("record")["outcome"] == "succeeded"


def test_recovery_figures_count_from_the_clock_start_to_dns_verified() -> None:
    event = load_event("record")
    run = RunContext.from_dict(event["run"])
    figures = recovery_figures(run, event["results"])
    assert figures["achieved_rto_s"] == 371.0  # 03:00:00 (manual start) to 03:06:11 (Verify finished)
    assert (figures["rpo_exposure_ms"], figures["rto_target_s"], figures["rpo_target_ms"]) == (0.0, 900, 60_000)
    assert figures["step_timings"]["promote_aurora"]["duration_s"] == 1.0
    ungraceful = {
        **event["results"],
        "promote_and_scale": {
            "promote_aurora": {**event["results"]["promote_and_scale"]["promote_aurora"], "data_loss_allowed": True}
        },
    }
    assert recovery_figures(run, ungraceful)["rpo_exposure_ms"] == 120.0
    alarmed = RunContext.from_dict(
        {**event["run"], "trigger": {"type": "alarm", "first_alarm_at": "2026-11-28T02:58:00Z"}}
    )
    assert recovery_figures(alarmed, event["results"])["achieved_rto_s"] == 491.0


def test_a_step_input_binds_to_its_plan_with_every_field() -> None:
    plan = load_plan_file(SAMPLE_PLAN)
    factory = ClientFactory()
    event = load_event("promote_aurora", mode="ungraceful", dry_run=True, action="status", deadline=1_800_000_000)
    parsed = parse_step_input(event, actions=promote_aurora.ACTIONS, params=promote_aurora.PARAMS)
    assert parsed.params == {"deadline": 1_800_000_000}
    req = make_request(parsed, plan, home_region="us-west-2", clients=factory)
    assert (req.plan, req.target_region, req.mode, req.dry_run, req.action, req.clients, req.params) == (
        plan,
        "us-west-2",
        "ungraceful",
        True,
        "status",
        factory,
        {"deadline": 1_800_000_000},
    )

    assert req.source_region == "us-east-1"
    assert req.result("promote_aurora") == StepResult(
        "promote_aurora", "status", "recsys", "us-west-2", "us-east-1", "ungraceful", True
    )


def test_a_step_input_that_is_not_an_object_names_its_type() -> None:
    with pytest.raises(InputInvalid) as info:
        parse_step_input([1], actions=promote_aurora.ACTIONS)
    assert str(info.value) == "step input is invalid: (input): must be a JSON object, got list"


def test_unknown_fields_are_named_in_order() -> None:
    event = {"plan": "recsys", "target_region": "us-west-2", "zeta": 1, "alpha": 2}
    with pytest.raises(InputInvalid) as info:
        parse_step_input(event, actions=promote_aurora.ACTIONS)
    assert info.value.problems == ["alpha: is not a known field", "zeta: is not a known field"]


# The run's deadline ends a poll: at the deadline (not a second later), only if still not done, and saying so.


def polled(done: bool) -> StepResult:
    result = StepResult("flip_dns", "status", "recsys", "us-west-2", "us-east-1", "graceful", False, done=done)
    result.message, result.after = "change C1 is PENDING", {"status": "PENDING"}
    return result


def test_a_poll_not_done_at_the_deadline_times_out_naming_the_step() -> None:
    with pytest.raises(PollTimeout) as info:
        enforce_deadline("flip_dns", polled(False), {"deadline": 1_000}, now=1_042.9)
    assert str(info.value) == "flip_dns was still not done at the run's deadline (42 s past it): change C1 is PENDING"
    assert info.value.details == {"step": "flip_dns", "last_seen": {"status": "PENDING"}}
    with pytest.raises(PollTimeout, match=r"\(0 s past it\)"):
        enforce_deadline("flip_dns", polled(False), {"deadline": 1_000}, now=1_000)


def test_a_poll_before_the_deadline_done_or_without_one_goes_on() -> None:
    enforce_deadline("flip_dns", polled(False), {"deadline": 1_000}, now=999.9)
    enforce_deadline("flip_dns", polled(True), {"deadline": 1_000}, now=5_000)
    enforce_deadline("flip_dns", polled(False), {}, now=5_000)
