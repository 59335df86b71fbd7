"""Every drill scenario through the same code path as `failoverctl drill`, on the session's emulators.

Each deploys the real template with sam, fires the alarms, follows the run Detect starts, and is judged
on the world read back independently (the report's verification) and on the exact world here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from failover_controller.clients import ClientFactory
from failover_controller.ledger import Ledger
from failoverctl import drill, operate
from failoverctl.__main__ import parser
from failoverctl.drill import emulators
from failoverctl.paths import DEFAULT_STACK, ROOT

pytestmark = pytest.mark.emulator

# The region whose answers the zone's name servers give for each name (the drill asks its DNS server).
ORIGINAL_DNS = "us-east-1"
FAILED_OVER_DNS = "us-west-2"


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
    # The standby's own canaries make Detect's quorum, so even the primary's alarm is not read; nothing else calls
    # the primary, and with data-plane DNS no function calls Route 53's API (homed in us-east-1) at all.
    assert to_primary == set()
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
    assert report["timings"]["started_s"] < 5, "Detect did not wait on the dark region: its own signals sufficed"
    assert not [c for c in report["calls"] if c["service"] in ("route53", "iam")], "no global control plane"
    (fault,) = report["faults"]
    assert (fault["kind"], fault["region"], fault["affected"]) == (
        "blackout",
        "us-east-1",
        sum(c["count"] for c in dark),
    )
    states = [t["state"] for t in report["timeline"]]
    assert states.index("CheckDns") < states.index("Verify"), "Verify ran once DNS answered with the standby"
    assert report["failback"]["outcome"] == "succeeded"
    assert all(region == ORIGINAL_DNS for region in report["failback"]["world_after"]["dns"].values())
    standby, primary = report["failback"]["claims_released"]
    assert standby.startswith("withdrew us-west-2's claim")
    assert primary.startswith("withdrew us-east-1's claim")


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
    granted = "Action: [sagemaker:DescribeEndpoint, sagemaker:UpdateEndpointWeightsAndCapacities]"
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert text.count(granted) == 1, "ShiftSageMakerTraffic's grant, as the template words it"
    copy = tmp_path / "template.yaml"
    copy.write_text(text.replace(granted, "Action: [sagemaker:DescribeEndpoint]"), encoding="utf-8")
    out = io.StringIO()
    options = drill.Options(scenario="graceful", report=tmp_path / "denied.json", template=copy)
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
    assert report["world_after"] == report["world_before"]
    assert "PromoteAndScale" not in [t["state"] for t in report["timeline"]]


def test_step_failure_is_compensated_to_a_consistent_world(emulator_pair: emulators.Emulators, tmp_path: Path) -> None:
    report = run_drill(emulator_pair, tmp_path, "step-failure")
    after = report["world_after"]
    assert report["outcome"] == "failed"
    assert report["cause"].startswith("SwitchDynamoDBWrites failed; compensated:")
    assert "Compensate" in [t["state"] for t in report["timeline"]]
    # Writes and DNS follow the Aurora writer, wherever it is now.
    assert after["aurora_writer"] == "us-west-2"
    assert after["write_region"]["us-west-2"] == "us-west-2"
    assert all(routes == FAILED_OVER_DNS for routes in after["dns"].values())


def test_failback_restores_the_original_state(emulator_pair: emulators.Emulators, tmp_path: Path) -> None:
    report = run_drill(emulator_pair, tmp_path, "graceful", failback=True)
    back = report["failback"]
    assert back["outcome"] == "succeeded"
    assert back["world_after"] == report["world_before"]
    assert all(routes == ORIGINAL_DNS for routes in back["world_after"]["dns"].values())


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
    args = parser().parse_args(
        [
            "failover",
            "recsys",
            "--to",
            "us-west-2",
            "--name",
            "rerun-1",
            "--endpoint-url",
            emulator_pair.ministack_url,
            "--sagemaker-endpoint-url",
            emulator_pair.moto_url,
        ]
    )
    out = io.StringIO()
    assert operate.run_command(args.func.operation, args, out, out) == 0, out.getvalue()
    with drill.emulated_env(emulator_pair):
        f = ClientFactory()
        table = next(
            o["OutputValue"]
            for o in f.client("cloudformation", "us-west-2").describe_stacks(StackName=DEFAULT_STACK)["Stacks"][0][
                "Outputs"
            ]
            if o["OutputKey"] == "LedgerTableName"
        )
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
