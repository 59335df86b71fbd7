"""The third way in: single functions in SAM's own container path (`sam local invoke`), with the JSON of events/,
against the drill's emulated world, each judged on its answer and on the world it read or changed.

Run by `make test-sam-local` (a Docker engine, arm64 under qemu); skipped by `make test`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.ledger import Ledger
from failover_controller.plan import load_plan_file
from failover_controller.prewarm import SK as PREWARM_SK
from failoverctl.drill import world as drill_world
from failoverctl.paths import ROOT
from tests.sam_local.conftest import REGION, World
from tests.support.detect_world import alarm_event

pytestmark = pytest.mark.skipif(
    os.environ.get("SAM_LOCAL_TESTS") != "1", reason="needs a Docker engine: run `make test-sam-local`"
)

PLAN = load_plan_file(ROOT / "plans" / "recsys.json")


def observer(world: World) -> ClientFactory:
    """The emulators themselves, past the outage proxy."""
    return ClientFactory(endpoints=world.pair.direct_endpoints())


def proxy_callers(world: World) -> dict[str, int]:
    """How many calls each caller made through the outage proxy (and so through the containers' relay)."""
    counts: dict[str, int] = {}
    for row in world.pair.outage_report()["calls"]:
        counts[row["function"]] = counts.get(row["function"], 0) + int(row["count"])
    return counts


def test_setup_left_a_ready_world_and_the_containers_a_way_in(world: World) -> None:
    assert world.report["setup_only"] is True
    assert world.report["passed"], world.report["readiness"]
    env = json.loads(world.env_file.read_text(encoding="utf-8"))
    assert {v["AWS_ENDPOINT_URL"] for v in env.values()} == {world.pair.container_url}
    assert not world.pair.container_url.startswith("http://127."), "a container's loopback is its own"
    assert env["DetectFunction"]["LEDGER_TABLE"] == world.report["outputs"]["LedgerTableName"]


def test_preflight_checks_the_standby_and_changes_nothing(invoke: Any, world: World) -> None:
    f = observer(world)
    # AWS publishes replication figures every minute; the world's, put at setup, may be older than the check's window.
    drill_world.put_replication_lag(PLAN, f, REGION, 120.0)
    drill_world.put_replication_latency(PLAN, f, REGION, 350.0)
    before = drill_world.snapshot(PLAN, f)
    answer = invoke("PreflightFunction", "preflight.json")
    assert "errorMessage" not in answer, answer
    assert answer["step"] == "preflight"
    assert answer["message"].startswith(f"{REGION} is ready: "), answer["message"]
    assert {c["verdict"] for c in answer["checks"]} <= {"pass", "unknown", "skipped"}
    assert drill_world.snapshot(PLAN, f) == before


def test_validate_input_takes_the_run_lock(invoke: Any, world: World) -> None:
    ledger = Ledger(world.report["outputs"]["LedgerTableName"], REGION, observer(world))
    event = json.loads((ROOT / "events" / "validate_input.json").read_text(encoding="utf-8"))
    try:
        answer = invoke("ValidateInputFunction", "validate_input.json")
        assert "errorMessage" not in answer, answer
        assert (answer["plan"], answer["target_region"], answer["execution"]) == (
            "recsys",
            REGION,
            event["execution"],
        )
        lock = ledger.get("recsys", "LOCK")
        assert lock is not None
        assert lock["owner"] == event["execution"]
    finally:
        ledger.delete("recsys", "LOCK")


def test_detect_pre_warms_the_standby_on_the_first_alarm(invoke: Any, world: World, tmp_path: Path) -> None:
    f = observer(world)
    ledger = Ledger(world.report["outputs"]["LedgerTableName"], REGION, f)
    before = drill_world.endpoint_config(PLAN, f, REGION)
    # The world as AWS has it when CloudWatch sends the event: the plan's alarms exist, and this one is in ALARM.
    drill_world.create_alarms(PLAN, f)
    f.cloudwatch(REGION).set_alarm_state(AlarmName="recsys-api-canary-use1", StateValue="ALARM", StateReason="drill")
    event = tmp_path / "alarm-now.json"  # the sample, sent now: Detect acts on fresh events only
    event.write_text(json.dumps(alarm_event()), encoding="utf-8")
    answer = invoke("DetectFunction", event)
    assert "errorMessage" not in answer, answer
    assert answer["outcome"] == "ignored"
    assert answer["reason"].startswith("quorum not met: 1 of"), answer["reason"]
    prewarm = ledger.get("recsys", PREWARM_SK)
    assert prewarm is not None, "the first alarm of the quorum pre-warms the standby"
    # The scale-up takes its (scaled) time: its instances arrive after the answer.
    deadline = time.monotonic() + 120
    while (after := drill_world.endpoint_config(PLAN, f, REGION)) == before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert after != before
    assert all(count >= before[name][1] for name, (_, count) in after.items())
    assert proxy_callers(world).get(f"{REGION}.DetectFunction", 0) > 0, "its calls went through the outage proxy"
