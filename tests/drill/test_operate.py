"""failoverctl's operator commands against controllers deployed in both regions of the emulator."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.ledger import Ledger
from failover_controller.plan import parse_plan
from failoverctl import drill, operate
from failoverctl.__main__ import parser
from failoverctl.drill import emulators, world
from failoverctl.paths import DEFAULT_STACK, ROOT

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def deployed(emulator_pair: emulators.Emulators, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A drill with failback: both regions' controllers deployed, the world back where it started."""
    path: Path = tmp_path_factory.mktemp("drill") / "report.json"
    report = drill.run(drill.Options(scenario="graceful", failback=True, report=path), emulator_pair, io.StringIO())
    assert report["passed"]
    return report


def cli(pair: emulators.Emulators, *argv: str, out: io.StringIO | None = None) -> tuple[int, str]:
    """failoverctl with its own output stream (tests run commands from several threads at once)."""
    args = parser().parse_args([*argv, "--endpoint-url", pair.ministack_url, "--sagemaker-endpoint-url", pair.moto_url])
    out = out or io.StringIO()
    code = operate.run_command(args.func.operation, args, out, out)
    return code, out.getvalue()


def in_background(pair: emulators.Emulators, *argv: str) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {"out": io.StringIO()}  # what it printed so far

    def run() -> None:
        result["code"], result["text"] = cli(pair, *argv, out=result["out"])

    runner = threading.Thread(target=run)
    runner.start()
    return runner, result


def snapshot(pair: emulators.Emulators, report: dict[str, Any]) -> dict[str, Any]:
    with drill.emulated_env(pair):
        f = ClientFactory()
        plan = parse_plan(json.loads(Path(ROOT / "plans" / "recsys.json").read_text()))
        zone = f.route53("us-west-2").list_hosted_zones()["HostedZones"][0]["Id"].rsplit("/", 1)[-1]
        plan = parse_plan(world.with_name_servers(world.with_zone(plan.document, zone), [pair.dns]))
        return world.snapshot(plan, f)


def test_status_lists_each_regions_runs_with_their_figures(emulator_pair: emulators.Emulators, deployed: Any) -> None:
    code, text = cli(emulator_pair, "status", "--region", "us-west-2")
    assert code == 0
    assert "succeeded" in text
    assert all(h in text for h in ("TO TRAFFIC s", "TO FULL s", "RTO s")), "both figures against the RTO"
    code, raw = cli(emulator_pair, "status", "--region", "us-east-1", "--json")
    runs = json.loads(raw)
    assert [(r["outcome"], r["target_region"], r["mode"]) for r in runs] == [("succeeded", "us-east-1", "graceful")]
    assert 0 < runs[0]["traffic_s"] <= runs[0]["achieved_rto_s"]
    assert 0 < runs[0]["full_capacity_s"] <= runs[0]["traffic_s"], "graceful: full capacity before traffic"


def test_readiness_prints_every_check(emulator_pair: emulators.Emulators, deployed: Any) -> None:
    code, text = cli(emulator_pair, "readiness", "recsys", "--region", "us-west-2")
    assert code == 0, text
    assert "recsys -> us-west-2: READY (0 failing" in text
    assert "ecr.image_in_target_region" in text
    code, raw = cli(emulator_pair, "readiness", "recsys", "--region", "us-west-2", "--json")
    assert json.loads(raw)["ready"] is True


def execution_input(pair: emulators.Emulators, region: str, name: str) -> dict[str, Any]:
    with drill.emulated_env(pair):
        f = ClientFactory()
        outputs = f.client("cloudformation", region).describe_stacks(StackName=DEFAULT_STACK)["Stacks"][0]["Outputs"]
        machine = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "StateMachineArn")
        arn = f"{machine.replace(':stateMachine:', ':execution:')}:{name}"
        doc: dict[str, Any] = json.loads(
            f.client("stepfunctions", region).describe_execution(executionArn=arn)["input"]
        )
        return doc


def test_a_dry_run_failover_changes_nothing(emulator_pair: emulators.Emulators, deployed: Any) -> None:
    before = snapshot(emulator_pair, deployed)
    code, text = cli(emulator_pair, "failover", "recsys", "--to", "us-west-2", "--dry-run", "--name", "dry-1")
    assert code == 0, text
    assert "outcome dry_run" in text
    assert snapshot(emulator_pair, deployed) == before
    # The writer as the command saw it goes with the run: it promotes only while the writer is still there.
    assert "it promotes only while the Aurora writer stays in us-east-1" in text
    assert execution_input(emulator_pair, "us-west-2", "dry-1")["expected_writer"] == before["aurora_writer"]


def _wait_for_approval_request(pair: emulators.Emulators, region: str, name: str) -> None:
    with drill.emulated_env(pair):
        f = ClientFactory()
        table = f.client("cloudformation", region).describe_stacks(StackName=DEFAULT_STACK)["Stacks"][0]["Outputs"]
        ledger = Ledger(next(o["OutputValue"] for o in table if o["OutputKey"] == "LedgerTableName"), region, f)
        for _ in range(300):
            if ledger.get("recsys", f"APPROVAL#{name}"):
                return
            time.sleep(0.05)
    raise AssertionError(f"{name} never asked for approval")


def test_a_rejected_failover_changes_nothing(emulator_pair: emulators.Emulators, deployed: Any) -> None:
    before = snapshot(emulator_pair, deployed)
    runner, result = in_background(
        emulator_pair, "failover", "recsys", "--to", "us-west-2", "--approve", "--name", "gate-reject"
    )
    _wait_for_approval_request(emulator_pair, "us-west-2", "gate-reject")
    code, text = cli(emulator_pair, "reject", "gate-reject", "--region", "us-west-2", "--reason", "not now")
    assert (code, text.strip()) == (0, "rejected gate-reject")
    runner.join(timeout=60)
    assert result["code"] == 1
    assert "outcome rejected" in result["text"]
    assert snapshot(emulator_pair, deployed) == before


def test_an_approved_failover_runs_to_the_end(emulator_pair: emulators.Emulators, deployed: Any) -> None:
    runner, result = in_background(
        emulator_pair, "failover", "recsys", "--to", "us-west-2", "--approve", "--name", "gate-approve"
    )
    _wait_for_approval_request(emulator_pair, "us-west-2", "gate-approve")
    code, text = cli(emulator_pair, "approve", "gate-approve", "--region", "us-west-2", "--by", "oncall")
    assert (code, text.strip()) == (0, "approved gate-approve as oncall")
    runner.join(timeout=60)
    assert result["code"] == 0, result["text"]
    after = snapshot(emulator_pair, deployed)
    assert after["aurora_writer"] == "us-west-2"
    assert set(after["write_region"].values()) == {"us-west-2"}


def test_answering_a_run_that_waits_for_nothing_is_an_error(emulator_pair: emulators.Emulators, deployed: Any) -> None:
    code, text = cli(emulator_pair, "approve", "no-such-run", "--region", "us-west-2")
    assert code == 3
    assert "no run no-such-run in us-west-2" in text


def _consistent(snap: dict[str, Any]) -> None:
    """No split brain: one region takes writes and traffic, and it is the one whose database is the writer."""
    writer = snap["aurora_writer"]
    for record, region in snap["dns"].items():  # the region DNS answers with, asked of the zone's name server
        assert region == writer, f"{record} answers with {region}, the Aurora writer is {writer}"
    assert snap["write_region"][writer] == writer


def test_both_controllers_at_once_never_split_the_brain(emulator_pair: emulators.Emulators, deployed: Any) -> None:
    """Each controller sees the other region as down and fails into its own, at the same moment. Both runs end (a
    wait for DNS that could never end fails instead), one of them succeeds or finds nothing to do, and the world is
    consistent (docs/safety.md)."""
    for round_ in range(3):
        runners = [
            in_background(
                emulator_pair,
                "failover",
                "recsys",
                "--to",
                region,
                "--mode",
                "ungraceful",
                "--name",
                f"split-{round_}-{region}",
            )
            for region in ("us-west-2", "us-east-1")
        ]
        for runner, _ in runners:
            runner.join(timeout=120)
        stuck = [result["out"].getvalue()[-1500:] for runner, result in runners if runner.is_alive()]
        assert not stuck, f"round {round_}: a run did not end within 120 s: {stuck}"
        codes = [result["code"] for _, result in runners]
        assert 0 in codes, [result["text"][-800:] for _, result in runners]
        _consistent(snapshot(emulator_pair, deployed))


def test_a_run_this_controller_did_not_start_and_an_unwritable_output_are_refused_in_one_line(
    emulator_pair: emulators.Emulators, deployed: Any, tmp_path: Path
) -> None:
    """Last in this module: it starts an execution of its own (one that fails at once, changing nothing)."""
    target = ["--region", "us-west-2", "--endpoint-url", emulator_pair.ministack_url]
    ctl = operate.controller(parser().parse_args(["status", *target]))
    ctl.factory.client("stepfunctions", "us-west-2").start_execution(
        stateMachineArn=ctl.state_machine_arn, name="not-ours", input="[1, 2]"
    )
    for argv in (["report", "not-ours", "--out", str(tmp_path / "x.html")], ["approve", "not-ours"]):
        code, text = cli(emulator_pair, *argv, "--region", "us-west-2")
        assert code == 2, text
        assert text.count("\n") == 1
        assert "its input is not a JSON object" in text
    unwritable = str(tmp_path / "no-such-folder" / "out")
    run = deployed["execution_arn"]
    for argv in (["report", run, "--out", unwritable], ["sam-env", "--out", unwritable]):
        code, text = cli(emulator_pair, *argv, "--region", "us-west-2")
        assert (code, text.count("\n")) == (2, 1), text
        assert "cannot write" in text


def test_plan_discover_finds_the_drilled_application_as_its_stored_plan_names_it(
    emulator_pair: emulators.Emulators, deployed: Any, tmp_path: Path
) -> None:
    """After a failover and a failback, with both controllers' own alarms, tables and parameters beside it."""
    code, text = cli(emulator_pair, "plan", "discover", "--check", "recsys", "--region", "us-west-2")
    assert (code, text) == (0, "recsys: no drift: the account's recsys is what the plan names (21 resources)\n")
    out = tmp_path / "found.json"
    code, text = cli(
        emulator_pair,
        "plan",
        "discover",
        "--application",
        "recsys",
        "--primary",
        "us-east-1",
        "--standby",
        "us-west-2",
        "--out",
        str(out),
    )
    assert code == 0, text
    found, sample = (parse_plan(json.loads(p.read_text())) for p in (out, ROOT / "plans" / "recsys.json"))
    assert set(found.signals) == set(sample.signals), "the plan's alarms, not the controllers'"
