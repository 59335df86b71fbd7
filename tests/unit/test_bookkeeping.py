"""The run's bookkeeping on moto: ValidateInput takes the plan's lock (never in a dry run) and binds the run to the
plan; Record writes the ledger, starts Detect's cooldown only after a run that changed or tried to change the
world, releases the lock and says where traffic is."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from failover_controller.bookkeeping import record, recovery_figures, validate_input
from failover_controller.clients import ClientFactory
from failover_controller.config import ControllerConfig
from failover_controller.errors import InputInvalid, PreconditionFailed
from failover_controller.ledger import Ledger
from failover_controller.plan import parse_plan
from failover_controller.run_context import RunContext
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
    with pytest.raises(InputInvalid, match="outcome: must be one of succeeded, dry_run, aborted"):
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
