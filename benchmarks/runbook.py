"""The runbook: controller time in the drill with instant emulated dependencies, state transitions and Lambda
invocations per failover (and what that costs on Step Functions Standard), and a model of the achieved RTO
from dependency timings along the state machine's critical path, against the same steps one after another."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, median
from failover_controller.clients import ClientFactory
from failoverctl import drill
from failoverctl.drill import emulators

RUNS = 3
TRANSITION_USD = 0.025 / 1000  # Step Functions Standard, per state transition (us-east-1 list price)
LAMBDA_REQUEST_USD = 0.20 / 1_000_000


def drill_runs(runs: int = RUNS) -> list[dict[str, Any]]:
    pair = emulators.start()
    reports = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(runs):
                report = drill.run(drill.Options(report=Path(tmp) / f"{i}.json"), pair, io.StringIO())
                with drill.emulated_env(pair):
                    report["counts"] = history_counts(report["execution_arn"])
                reports.append(report)
    finally:
        pair.stop()
    return reports


def history_counts(execution_arn: str) -> dict[str, int]:
    sfn = ClientFactory().client("stepfunctions", "us-west-2")
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return {
        "state_transitions": sum(e["type"].endswith("StateEntered") for e in events),
        "lambda_invocations": sum(e["type"] in {"TaskScheduled", "LambdaFunctionScheduled"} for e in events),
    }


def rto_model(timings: dict[str, Any], plan: dict[str, Any], mode: str) -> dict[str, float]:
    t = {k: v["value"] for k, v in timings.items() if not k.startswith("_")}
    aurora = t["aurora_switchover_s"] if mode == "graceful" else t["aurora_failover_s"]
    poll = t["poll_interval_s"]
    step = t["lambda_step_s"]
    head = t["detection_s"] + step + t["preflight_s"]  # Detect, ValidateInput, Preflight
    # data_plane: the claim's alarm and Route 53's checkers; control_plane: the record change to INSYNC.
    data_plane = plan["route53"].get("mode", "control_plane") == "data_plane"
    dns = t["route53_health_s"] if data_plane else t["route53_insync_s"]
    tail = step + t["sagemaker_weights_s"] + step + (dns + poll) + step + t["dns_ttl_s"]
    parallel = head + max(aurora + poll, t["sagemaker_scale_up_s"] + poll) + tail
    sequential = head + (aurora + poll) + (t["sagemaker_scale_up_s"] + poll) + tail
    return {
        "parallel_s": parallel,
        "sequential_s": sequential,
        "rto_target_s": plan["objectives"]["rto_seconds"],
        "saved_by_parallel_s": sequential - parallel,
    }


def run() -> dict[str, Any]:
    reports = drill_runs()
    timings = json.loads((ROOT / "benchmarks" / "dependency_timings.json").read_text())
    plan = json.loads((ROOT / "plans" / "recsys.json").read_text())
    counts = reports[0]["counts"]
    return {
        "runs": len(reports),
        "passed": [r["passed"] for r in reports],
        "alarm_to_dns_flipped_s_median": median([r["timings"]["dns_s"] for r in reports]),
        "alarm_to_verified_s_median": median([r["timings"]["verified_s"] for r in reports]),
        "drill_wall_s_median": median([r["wall_s"] for r in reports]),
        "time_scale": reports[0]["time_scale"],
        "deploy_s_median": median([r["timings"]["deploy_s"] for r in reports]),
        **counts,
        "usd_per_failover": round(
            counts["state_transitions"] * TRANSITION_USD + counts["lambda_invocations"] * LAMBDA_REQUEST_USD, 6
        ),
        "rto_model": {mode: rto_model(timings, plan, mode) for mode in ("graceful", "ungraceful")},
    }


if __name__ == "__main__":
    os.environ.setdefault("MINISTACK_BIN", str(ROOT / ".venv-ministack" / "bin" / "ministack"))
    print(json.dumps(run(), indent=2))
