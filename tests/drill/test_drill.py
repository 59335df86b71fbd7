"""Every drill scenario through the same code path as `failoverctl drill`, on the session's emulators.

Each deploys the real template with sam, fires the alarms, follows the run Detect starts, and is judged
on the world read back independently (the report's verification) and on the exact world here.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from failover_controller.clients import ClientFactory
from failover_controller.ledger import Ledger
from failover_controller.plan import RecoveryPlan, load_plan_file
from failover_controller.plan_store import load_plan
from failoverctl import drill, operate
from failoverctl.__main__ import parser
from failoverctl.drill import emulators, world
from failoverctl.paths import DEFAULT_STACK, ROOT
from failoverctl.stack import stack_resources

pytestmark = pytest.mark.emulator

# The region whose answers the zone's name servers give for each name (the drill asks its DNS server).
ORIGINAL_DNS = "us-east-1"
FAILED_OVER_DNS = "us-west-2"


def failoverctl_on(pair: emulators.Emulators, *argv: str) -> str:
    """An operator command against the emulators, as `failoverctl ... --endpoint-url`; what it printed."""
    args = parser().parse_args([*argv, "--endpoint-url", pair.ministack_url, "--sagemaker-endpoint-url", pair.moto_url])
    out = io.StringIO()
    assert operate.run_command(args.func.operation, args, out, out) == 0, out.getvalue()
    return out.getvalue()


def stack_outputs(pair: emulators.Emulators) -> dict[str, str]:
    with drill.emulated_env(pair):
        stack = ClientFactory().client("cloudformation", "us-west-2").describe_stacks(StackName=DEFAULT_STACK)
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0]["Outputs"]}


def reservations(pair: emulators.Emulators) -> dict[str, int | None]:
    """Each deployed function's reserved concurrency, by logical id, as the world holds it."""
    with drill.emulated_env(pair):
        f = ClientFactory()
        return {
            r["LogicalResourceId"]: f.client("lambda", "us-west-2")
            .get_function_concurrency(FunctionName=r["PhysicalResourceId"])
            .get("ReservedConcurrentExecutions")
            for r in stack_resources(f, "us-west-2", DEFAULT_STACK)
            if r["ResourceType"] == "AWS::Lambda::Function"
        }


def world_plan() -> RecoveryPlan:
    return load_plan_file(ROOT / "plans" / "recsys.json")


def run_drill(
    pair: emulators.Emulators,
    tmp_path: Path,
    scenario: str,
    failback: bool = False,
    plan: str | Path = "recsys.json",
) -> dict[str, Any]:
    report_path = tmp_path / f"{scenario}.json"
    out = io.StringIO()
    options = drill.Options(scenario=scenario, failback=failback, report=report_path, plan_file=ROOT / "plans" / plan)
    report = drill.run(options, pair, out)
    assert json.loads(report_path.read_text())["passed"] == report["passed"]
    assert report["passed"], out.getvalue()
    assert report["iam"]["functions"] >= 12, "every deployed function is held to its role"
    assert report["iam"]["evaluated"] > 0
    assert report["iam"]["denials"] == [], "the template grants each function all it calls"
    reserved = reservations(pair)
    assert reserved.pop("DetectFunction") == 5, "the template's reservations hold in the world, as on AWS"
    assert set(reserved.values()) == {2}
    return report


def test_graceful_switchover(emulator_pair: emulators.Emulators, tmp_path: Path) -> None:
    report = run_drill(emulator_pair, tmp_path, "graceful")
    after = report["world_after"]
    assert report["outcome"] == "succeeded"
    assert after["aurora_writer"] == "us-west-2"
    assert after["write_region"] == {"us-east-1": "us-west-2", "us-west-2": "us-west-2"}
    assert after["endpoints"] == {"us-east-1": {"ranker": (1.0, 1)}, "us-west-2": {"ranker": (1.0, 4)}}
    assert all(routes == FAILED_OVER_DNS for routes in after["dns"].values())
    states = [t["state"] for t in report["timeline"]]
    assert states[:2] == ["ValidateInput", "Preflight"]
    assert states.index("FlipDns") < states.index("Verify") < states.index("RecordSucceeded")
    assert 0 < report["timings"]["dns_s"] < report["timings"]["verified_s"]
    callers = {c["function"] for c in report["calls"]}
    assert callers >= {"Detect", "ValidateInput", "Preflight", "PromoteAurora", "FlipDns", "Verify", "Record"}
    assert {c["outcome"] for c in report["calls"]} == {"ok"}
    assert report["faults"] == []
    timings = report["timings"]
    assert [a["at_s"] > 0 for a in timings["alarms"]] == [False, True], "the quorum's alarms, one after the other"
    assert report["prewarm"]["changed"] is True, "the first alarm pre-warmed the standby"
    # The standby is autoscaled: raising its MinCapacity made Application Auto Scaling move the capacity itself.
    assert report["autoscaling"] == [{"endpoint": "recsys-ranker-usw2", "variant": "ranker", "from": 1, "to": 4}]
    assert timings["capacity_seen_s"] < timings["dns_answered_s"] > timings["writer_seen_s"], "capacity, writer, DNS"
    # Graceful keeps 1.0 of the active capacity before traffic: on AWS's clock too, capacity came first.
    assert timings["full_capacity_s"] <= timings["traffic_s"] < timings["clients_follow_s"]
    assert timings["traffic_s"] < timings["dns_answered_s"] * report["time_scale"], "no emulator time multiplied"
    page = (tmp_path / "graceful.html").read_text(encoding="utf-8")
    assert "<svg" in page
    assert 'data-state="Pre-warm: standby scale-up"' in page
    # The same picture from AWS's records alone: the execution history and the ledger entry.
    out_file = tmp_path / "from-aws.html"
    said = failoverctl_on(
        emulator_pair,
        "report",
        report["execution_arn"].rsplit(":", 1)[-1],
        "--region",
        "us-west-2",
        "--out",
        str(out_file),
    )
    assert said == f"{out_file}: SUCCEEDED, outcome succeeded\n"
    from_aws = out_file.read_text(encoding="utf-8")
    for state in ("ValidateInput", "Preflight", "PromoteAndScale", "FlipDns", "Verify", "Pre-warm: standby scale-up"):
        assert f'data-state="{state}"' in from_aws, state
    assert from_aws.count('<tr class="check">') == 4, "the Verify step's checks, from the ledger"
    # `sam local invoke --env-vars`: the names the stack created, where the template's !Ref would resolve locally
    # to logical ids.
    env_file = tmp_path / "env.json"
    said = failoverctl_on(emulator_pair, "sam-env", "--region", "us-west-2", "--out", str(env_file))
    env = json.loads(env_file.read_text(encoding="utf-8"))
    resources = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))["Resources"]
    functions = {name for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert set(env) == functions
    wrote = f"{env_file}: the environment of {len(functions)} functions of {DEFAULT_STACK} in us-west-2"
    assert said.splitlines()[0] == wrote
    outputs = stack_outputs(emulator_pair)
    assert env["DetectFunction"]["LEDGER_TABLE"] == outputs["LedgerTableName"]
    assert env["DetectFunction"]["STATE_MACHINE_ARN"] == outputs["StateMachineArn"]
    values = {v for variables in env.values() for v in variables.values()}
    assert not values & set(resources), "no value is a logical id"
    # The drill deploys the functions' declared AWS_ENDPOINT_URL as its outage proxy (empty on AWS), on the host's
    # loopback: a container needs another address, which --container-endpoint gives.
    assert {v["AWS_ENDPOINT_URL"] for v in env.values()} == {emulator_pair.proxy_url}
    assert "which a container does not reach: keep the drill with --for-containers" in said.splitlines()[1]
    failoverctl_on(
        emulator_pair, "sam-env", "--region", "us-west-2", "--out", str(env_file), "--container-endpoint", "http://x:1"
    )
    moved = json.loads(env_file.read_text(encoding="utf-8"))
    assert {v["AWS_ENDPOINT_URL"] for v in moved.values()} == {"http://x:1"}
    assert {k: {n: v for n, v in e.items() if n != "AWS_ENDPOINT_URL"} for k, e in moved.items()} == {
        k: {n: v for n, v in e.items() if n != "AWS_ENDPOINT_URL"} for k, e in env.items()
    }


def test_setup_only_leaves_a_ready_world_and_starts_nothing(emulator_pair: emulators.Emulators, tmp_path: Path) -> None:
    report_path = tmp_path / "setup.json"
    out = io.StringIO()
    report = drill.run(drill.Options(setup_only=True, report=report_path), emulator_pair, out)
    assert report["passed"], out.getvalue()
    assert report["readiness"]["ready"] is True
    assert "setup only: no alarm fired, no run started" in out.getvalue()
    with drill.emulated_env(emulator_pair):
        f = ClientFactory()
        runs = f.client("stepfunctions", "us-west-2").list_executions(
            stateMachineArn=report["outputs"]["StateMachineArn"]
        )
        assert runs["executions"] == []
        deployed = load_plan("recsys", prefix=world.PLAN_PREFIX, region="us-west-2", factory=f, max_age=0)
        now = world.snapshot(deployed, f)
    assert json.loads(json.dumps(now)) == json.loads(json.dumps(report["world_before"])), "nothing changed"
    assert json.loads(report_path.read_text())["setup_only"] is True
    assert not report_path.with_suffix(".html").exists(), "no run, no run's page"


def test_a_browned_out_primary_slows_the_run_but_retries_carry_it_through(
    emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    report = run_drill(emulator_pair, tmp_path, "brownout")
    after = report["world_after"]
    assert report["outcome"] == "succeeded"
    assert after["aurora_writer"] == "us-west-2"
    assert after["write_region"] == {"us-east-1": "us-west-2", "us-west-2": "us-west-2"}
    assert all(routes == FAILED_OVER_DNS for routes in after["dns"].values())
    failed = {
        (c["function"], c["outcome"]) for c in report["calls"] if c["region"] == "us-east-1" and c["outcome"] != "ok"
    }
    assert {o for _, o in failed} == {"error", "throttled"}, "the primary answered with 5xx and throttling"
    assert {f for f, _ in failed} - {"drill"}, "and the controller's own calls met them"
    assert {c["outcome"] for c in report["calls"] if c["region"] == "us-west-2"} == {"ok"}
    (fault,) = report["faults"]
    assert (fault["kind"], fault["region"], fault["affected"]) == (
        "brownout",
        "us-east-1",
        sum(c["count"] for c in report["calls"] if c["region"] == "us-east-1"),
    )
    # Bursts longer than the SDK's 5 attempts: a step met one past its retries, and the state machine's Retry on
    # TransientAwsError (Lambda's errorType, as AWS reports it) ran it again.
    assert fault["burst"] == 6 <= fault["longest_failure_run"]
    retried = {t["state"]: t["errors"] for t in report["timeline"] if t.get("errors")}
    assert retried, "no step met a burst past the SDK's retries"
    assert all(set(e) == {"TransientAwsError"} for e in retried.values()), retried
    assert report["ledger"]["achieved_rto_s"] <= report["ledger"]["rto_target_s"]


def test_the_primarys_alarm_completes_the_quorum_through_its_stacks_forwarding_and_a_duplicate_starts_nothing(
    emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    report = run_drill(emulator_pair, tmp_path, "primary-alarm")
    assert report["outcome"] == "succeeded"
    assert [a["alarm"] for a in report["timings"]["alarms"]] == ["recsys-api-canary-use1", "recsys-health-check-use1"]
    (crossed,) = report["events"]["relayed"]
    assert (crossed["from"], crossed["to"]) == ("us-east-1", "arn:aws:events:us-west-2:000000000000:event-bus/default")
    assert "SignalForwardRole" in crossed["role"], "the primary stack's rule and role carried it"
    assert report["events"]["refused"] == []
    duplicate = report["duplicate_delivery"]
    assert duplicate["executions"] == 1, "the redelivered event found its own run"
    assert duplicate["decision"]["execution_arn"] == report["execution_arn"]
    assert duplicate["decision"]["alarm"] == "recsys-health-check-use1", "the forwarded alarm started the run"
    assert report["iam"]["functions"] == 24, "both regions' functions held to their roles"


def test_a_standby_without_capacity_takes_traffic_at_its_warm_capacity_and_says_it_is_reduced(
    emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    report = run_drill(emulator_pair, tmp_path, "no-capacity")
    after, ledger = report["world_after"], report["ledger"]
    assert report["outcome"] == "reduced_capacity"
    assert report["error"] == "ReducedCapacity"
    assert "InsufficientInstanceCapacity" in report["cause"]
    assert "ranker has 1 of 4 instances" in report["cause"], "the run says what the standby has"
    assert after["endpoints"]["us-west-2"] == {"ranker": (1.0, 1)}, "every scale-up rolled back"
    assert after["aurora_writer"] == "us-west-2"
    assert after["write_region"]["us-west-2"] == "us-west-2", "writes followed the database"
    assert all(region == FAILED_OVER_DNS for region in after["dns"].values()), "traffic moved, and stays"
    assert ledger["traffic_s"] < ledger["achieved_rto_s"], "traffic moved before the deadline"
    assert ledger.get("full_capacity_s") is None
    assert set(report["timings"]) & {"traffic_s", "full_capacity_s"} == {"traffic_s"}
    sent = sum(
        c["count"]
        for c in report["calls"]
        if c["function"] == "ShiftSageMakerTraffic" and c["action"] == "UpdateEndpointWeightsAndCapacities"
    )
    assert sent > 1, "a rolled-back scale-up is sent again (capacity shifts)"
    assert not [c for c in report["calls"] if c["function"] == "ShiftSageMakerTraffic" and c["outcome"] != "ok"], (
        "never while one is under way or rolling back"
    )
    assert report["ledger"]["rto_target_s"] == 60


def test_ungraceful_failover_leaves_the_primary_untouched(emulator_pair: emulators.Emulators, tmp_path: Path) -> None:
    report = run_drill(emulator_pair, tmp_path, "ungraceful")
    after = report["world_after"]
    assert after["aurora_writer"] == "us-west-2"
    assert after["write_region"] == {"us-east-1": "us-east-1", "us-west-2": "us-west-2"}
    assert after["endpoints"]["us-east-1"] == report["world_before"]["endpoints"]["us-east-1"]
    assert all(routes == FAILED_OVER_DNS for routes in after["dns"].values())
    to_primary = {
        (c["function"], c["service"])
        for c in report["calls"]
        if c["region"] == "us-east-1" and c["function"] != "drill"
    }
    # The first canary alone is a suspicion: Detect asks the primary's alarm too (after pre-warming). The second
    # canary makes the quorum with the standby's own signals, so that run's Detect does not; nothing else calls the
    # primary, and with data-plane DNS no function calls Route 53's API (homed in us-east-1) at all.
    assert to_primary == {("Detect", "monitoring")}
    assert not [c for c in report["calls"] if c["service"] == "route53" and c["function"] != "drill"]


def test_a_dark_primary_region_fails_over_on_the_standbys_apis_and_dns_and_fails_back(
    emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    report = run_drill(emulator_pair, tmp_path, "region-outage", failback=True)
    after = report["world_after"]
    assert report["outcome"] == "succeeded"
    assert after["aurora_writer"] == "us-west-2"
    assert after["write_region"] == {"us-east-1": "us-east-1", "us-west-2": "us-west-2"}
    assert all(region == FAILED_OVER_DNS for region in after["dns"].values()), "DNS answers with the standby"
    dark = [c for c in report["calls"] if c["region"] == "us-east-1"]
    assert {c["outcome"] for c in dark} <= {"timeout", "unreachable"}, "no call reached the dark region"
    timings = report["timings"]
    assert timings["started_s"] - timings["alarms"][-1]["at_s"] < 5, (
        "the quorum's Detect did not wait on the dark region"
    )
    assert report["prewarm"]["changed"] is True, "the suspicion's Detect pre-warmed before asking the dark region"
    assert not [c for c in report["calls"] if c["service"] in ("route53", "iam")], "no global control plane"
    (fault,) = report["faults"]
    assert (fault["kind"], fault["region"]) == ("blackout", "us-east-1")
    # Every dark call counted, and logged once it gave up: the suspicion's Detect may still hang on its last
    # attempt at the primary's alarm when the run is over.
    assert 0 <= fault["affected"] - sum(c["count"] for c in dark) <= 1
    assert {c["function"] for c in dark} <= {"Detect", "drill"}
    states = [t["state"] for t in report["timeline"]]
    assert states.index("CheckDns") < states.index("Verify"), "Verify ran once DNS answered with the standby"
    assert report["failback"]["outcome"] == "succeeded"
    assert report["failback"]["resync_waited_s"] > 0, "the old primary was pending-resync: the failback waited for it"
    assert all(region == ORIGINAL_DNS for region in report["failback"]["world_after"]["dns"].values())
    assert after["claims"] == {"us-east-1": False, "us-west-2": True}
    # The graceful failback withdrew the standby's claim in the standby: nobody claims, nothing to release by hand.
    assert report["failback"]["world_after"]["claims"] == {"us-east-1": False, "us-west-2": False}
    claimed = [c for c in report["calls"] if c["function"] == "FlipDns" and c["action"] == "PutMetricData"]
    assert {c["region"] for c in claimed} == {"us-west-2"}, "the claim is published in the standby's CloudWatch"


def test_a_dark_primary_with_a_lag_past_the_rpo_is_refused_and_nothing_changes(
    emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    report = run_drill(emulator_pair, tmp_path, "region-outage-lagging")
    assert report["outcome"] == "aborted"
    assert "replication lag exceeds the plan's RPO" in report["cause"]
    assert "force_beyond_rpo" in report["cause"], "and says how to accept the loss"
    assert report["world_after"]["aurora_writer"] == "us-east-1", "nothing promoted"


def test_a_claim_alarm_route53_cannot_follow_fails_the_drill_naming_the_constraint(
    emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    """Route 53 API reference, AlarmIdentifier: standard-resolution metrics only. A 10-second claim alarm (the
    design before) would never move DNS on AWS: the drill's Route 53 never follows it, and the run stops first."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    period = "      Statistic: Minimum\n      Period: 60\n"
    assert text.count(period) == 1, "TrafficClaimAlarm, as the template words it"
    copy = tmp_path / "template.yaml"
    copy.write_text(text.replace(period, period.replace("60", "10")), "utf-8")
    out = io.StringIO()
    options = drill.Options(scenario="region-outage", report=tmp_path / "p10.json", template=copy)
    report = drill.run(options, emulator_pair, out)
    assert not report["passed"]
    assert report["outcome"] == "aborted", "nothing moved"
    assert report["world_after"]["aurora_writer"] == "us-east-1"
    said = out.getvalue()
    assert "Route 53's health checks cannot follow it (its period is 10 s" in said
    assert "dns.claim_alarm" in report["cause"]


def test_control_plane_dns_still_moves_traffic_with_record_changes(
    emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    doc = json.loads((ROOT / "plans" / "recsys.json").read_text(encoding="utf-8"))
    doc["route53"]["mode"] = "control_plane"
    plan = tmp_path / "control-plane.json"
    plan.write_text(json.dumps(doc), encoding="utf-8")
    report = run_drill(emulator_pair, tmp_path, "graceful", plan=plan)
    assert all(region == FAILED_OVER_DNS for region in report["world_after"]["dns"].values())
    changed = {(c["function"], c["action"]) for c in report["calls"] if c["service"] == "route53"}
    assert ("FlipDns", "ChangeResourceRecordSets") in changed
    assert ("FlipDns", "GetChange") in changed


def test_a_role_without_an_action_the_run_needs_fails_the_drill_naming_the_denial(
    emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    sid = "Sid: ScaleEndpoints\n              Effect: Allow\n              "
    granted = sid + "Action: [sagemaker:DescribeEndpoint, sagemaker:UpdateEndpointWeightsAndCapacities]"
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert text.count(granted) == 1, "ShiftSageMakerTraffic's grant, as the template words it"
    copy = tmp_path / "template.yaml"
    copy.write_text(text.replace(granted, sid + "Action: [sagemaker:DescribeEndpoint]"), "utf-8")
    # Without the pre-warm, so that the runbook's own scale-up is the first to scale the standby.
    doc = json.loads((ROOT / "plans" / "recsys.json").read_text(encoding="utf-8"))
    doc["sagemaker"]["prewarm_seconds"] = 0
    plan = tmp_path / "recsys.json"
    plan.write_text(json.dumps(doc), encoding="utf-8")
    out = io.StringIO()
    options = drill.Options(scenario="graceful", report=tmp_path / "denied.json", template=copy, plan_file=plan)
    report = drill.run(options, emulator_pair, out)
    assert not report["passed"]
    assert report["outcome"] == "failed"
    (denial,) = report["iam"]["denials"]
    assert denial == {
        "function": "ShiftSageMakerTraffic",
        "action": "sagemaker:UpdateEndpointWeightsAndCapacities",
        "resource": "arn:aws:sagemaker:us-west-2:000000000000:endpoint/recsys-ranker-usw2",
        "reason": "ImplicitDeny",
    }
    said = out.getvalue()
    assert "denied: ShiftSageMakerTraffic sagemaker:UpdateEndpointWeightsAndCapacities on arn:aws:sagemaker" in said
    assert "AccessDeniedException" in said, "the run's own error names AWS's denial"
    assert ("ShiftSageMakerTraffic", "denied") in {(c["function"], c["outcome"]) for c in report["calls"]}
    assert report["world_after"]["endpoints"]["us-west-2"] == {"ranker": (1.0, 1)}, "the standby was never scaled"


def test_not_ready_aborts_and_changes_nothing(emulator_pair: emulators.Emulators, tmp_path: Path) -> None:
    report = run_drill(emulator_pair, tmp_path, "not-ready")
    assert report["outcome"] == "aborted"
    assert report["execution_status"] == "FAILED"
    assert "sagemaker.same_model_as_source" in report["cause"]
    before, after = report["world_before"], report["world_after"]
    assert after["endpoints"].pop("us-west-2") in ({"ranker": (1.0, 1)}, {"ranker": (1.0, 4)}), "pre-warm, or under way"
    before["endpoints"].pop("us-west-2")
    assert after == before, "nothing else changed"
    assert "PromoteAndScale" not in [t["state"] for t in report["timeline"]]
    assert report["prewarm"]["changed"] is True
    # The false alarm's pre-warm goes back on the sweep, run by the deployed Detect under its role (as on AWS,
    # where the schedule invokes it every 5 minutes); here its hold is ended now instead of in 1800 s.
    with drill.emulated_env(emulator_pair):
        f = ClientFactory()
        outputs = stack_outputs(emulator_pair)
        ledger = Ledger(outputs["LedgerTableName"], "us-west-2", f)
        item = ledger.get("recsys", "PREWARM") or {}
        ledger.put("recsys", "PREWARM", {**item, "until": int(time.time()) - 1})
        said = ""
        for _ in range(100):
            answer = f.client("lambda", "us-west-2").invoke(
                FunctionName=outputs["DetectFunctionName"], Payload=json.dumps({"prewarm": "sweep"}).encode()
            )
            said = json.loads(answer["Payload"].read())["plans"]["recsys"]
            if not said.startswith(("warm until", "false alarm: scaling")):
                break
            time.sleep(0.2)
        assert said.startswith("false alarm: the standby is back at the counts it had"), said
        assert world.endpoint_config(world_plan(), f, "us-west-2") == {"ranker": (1.0, 1)}
        assert ledger.get("recsys", "PREWARM") is None
    assert emulator_pair.outage_report()["iam"]["denials"] == [], "Detect's role grants the sweep what it calls"


def test_step_failure_is_compensated_to_a_consistent_world(emulator_pair: emulators.Emulators, tmp_path: Path) -> None:
    report = run_drill(emulator_pair, tmp_path, "step-failure")
    after = report["world_after"]
    assert report["outcome"] == "failed"
    assert report["cause"].startswith("SwitchDynamoDBWrites failed; compensated:")
    # The step's exception reaches Step Functions by its class name, as AWS's Python runtime reports it (the emulator
    # said Runtime.HandlerError for every one, so a Retry on TransientAwsError never ran in a drill).
    assert report["error"] == "PreconditionFailed"
    assert '"errorType": "PreconditionFailed"' in report["cause"]
    assert "Compensate" in [t["state"] for t in report["timeline"]]
    # Writes and DNS follow the Aurora writer, wherever it is now.
    assert after["aurora_writer"] == "us-west-2"
    assert after["write_region"]["us-west-2"] == "us-west-2"
    assert all(routes == FAILED_OVER_DNS for routes in after["dns"].values())
    # Compensation claims without waiting for DNS: the drill read the world once DNS had followed (bounded).
    assert 0 <= report["timings"]["dns_settled_s"] < 30


def test_failback_restores_the_original_state(emulator_pair: emulators.Emulators, tmp_path: Path) -> None:
    report = run_drill(emulator_pair, tmp_path, "graceful", failback=True)
    back = report["failback"]
    assert back["outcome"] == "succeeded"
    assert back["world_after"] == report["world_before"]
    assert all(routes == ORIGINAL_DNS for routes in back["world_after"]["dns"].values())


def test_an_account_whose_quota_leaves_fewer_than_100_unreserved_refuses_the_deploy_naming_the_quota(
    emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    options = drill.Options(scenario="graceful", report=tmp_path / "quota.json", account_concurrency=120)
    with pytest.raises(drill.DrillError) as info:
        drill.run(options, emulator_pair, io.StringIO())
    assert "the stack reserves 27 concurrent executions and Lambda keeps at least 100 of the account's 120" in str(
        info.value
    )
    assert "controller.reserved_concurrency" in str(info.value)


def test_an_unknown_scenario_is_refused(emulator_pair: emulators.Emulators, tmp_path: Path) -> None:
    with pytest.raises(drill.DrillError, match="unknown scenario 'chaos'"):
        drill.run(drill.Options(scenario="chaos", report=tmp_path / "r.json"), emulator_pair, io.StringIO())


def test_rerunning_after_a_step_failure_converges_without_acting_twice(
    emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    run_drill(emulator_pair, tmp_path, "step-failure")
    with drill.emulated_env(emulator_pair):
        f = ClientFactory()
        # The operator restores what was missing, then starts the failover again by hand.
        f.ssm("us-east-1").put_parameter(Name="/recsys/write-region", Value="us-east-1", Type="String")
    failoverctl_on(emulator_pair, "failover", "recsys", "--to", "us-west-2", "--name", "rerun-1")
    with drill.emulated_env(emulator_pair):
        f = ClientFactory()
        table = stack_outputs(emulator_pair)["LedgerTableName"]
        rerun = next(r for r in Ledger(table, "us-west-2", f).runs("recsys") if r["execution"] == "rerun-1")
    assert rerun["outcome"] == "succeeded"
    steps = rerun["steps"]
    assert steps["promote_and_scale"]["promote_aurora"]["changed"] is False, "Aurora was promoted once, before"
    assert steps["promote_and_scale"]["scale_up_standby"]["changed"] is False
    assert steps["flip_dns"]["changed"] is False, "compensation had already aligned DNS with the writer"
    assert steps["switch_dynamodb_writes"]["changed"] is True, "only the primary's restored parameter was left"


def test_a_plan_over_4_kb_deploys_and_fails_over(emulator_pair: emulators.Emulators, tmp_path: Path) -> None:
    """20 tables, 10 endpoints (5 a region, 2 variants each), 12 alarms: more than a template parameter holds."""
    report = run_drill(emulator_pair, tmp_path, "graceful", plan="large.json")
    after = report["world_after"]
    assert report["outcome"] == "succeeded"
    assert after["aurora_writer"] == "us-west-2"
    standby = after["endpoints"]["us-west-2"]
    assert len(standby) == 10
    assert standby["recsys-ranker-usw2/ranker"] == (1.0, 4)
    assert standby["recsys-scorer-usw2/scorer"] == (1.0, 2)
    assert standby["recsys-scorer-usw2/scorer-shadow"] == (0.0, 1)
    assert all(routes == FAILED_OVER_DNS for routes in after["dns"].values())
