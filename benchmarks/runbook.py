"""The runbook: controller time in the drill with instant emulated dependencies, state transitions and Lambda
invocations per failover (and what that costs on Step Functions Standard). The achieved RTO is measured by
benchmarks/rto.py."""

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


def run() -> dict[str, Any]:
    reports = drill_runs()
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
    }


if __name__ == "__main__":
    os.environ.setdefault("MINISTACK_BIN", str(ROOT / ".venv-ministack" / "bin" / "ministack"))
    print(json.dumps(run(), indent=2))
