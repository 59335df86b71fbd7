"""The two recovery figures, measured on the time-scaled world for the sample plan's automatic (ungraceful) failover:
time to traffic (the first alarm's state change to DNS answering with the standby, as a client asks the zone's name
servers) and time to full capacity (to the standby's endpoints at their active count).

The world's dependencies take ``benchmarks/dependency_timings.json``'s durations divided by ``SCALE``; each figure is
read on AWS's clock (``failoverctl.clock``): only the waits the world scaled are multiplied back, never the
emulators' own time (about a second per Lambda invocation). Each figure has a limit: the sum of the documented
dependency times on its path, which no controller can beat; the rest is the controller's own share.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, median
from failoverctl import drill
from failoverctl.clock import aws_span
from failoverctl.drill import emulators
from failoverctl.drill.outage import dependency_timings
from failoverctl.report import critical_path, listed, span_label

SCALE = 10.0
SCENARIO = "ungraceful"  # the sample plan's automatic mode
ROUNDS = 3
GOAL_TRAFFIC_SHARE_OF_RTO = 0.40
GOAL_TRAFFIC_TO_LIMIT = 1.15
GOAL_FULL_TO_LIMIT = 1.10
# The documented dependency times on each path (dependency_timings.json's keys).
TRAFFIC_PATH = ("quorum_gap_s", "aurora_failover_s", "claim_period_s", "route53_health_s")
FULL_CAPACITY_PATH = ("sagemaker_scale_up_s",)  # the pre-warm starts it at the first alarm


def limits() -> dict[str, float]:
    timings = dependency_timings()
    return {
        "limit_traffic_s": float(sum(timings[k] for k in TRAFFIC_PATH)),
        "limit_full_capacity_s": float(sum(timings[k] for k in FULL_CAPACITY_PATH)),
    }


def measured(report: dict[str, Any]) -> dict[str, Any]:
    """One run's figures on AWS's clock, and the spans of its path to traffic."""
    timings = report["timings"]
    if not report.get("passed") or "traffic_s" not in timings or "full_capacity_s" not in timings:
        raise RuntimeError(f"the {report['scenario']} run did not pass: {report.get('error')} {report.get('cause')}")
    return {
        "traffic_s": timings["traffic_s"],
        "full_capacity_s": timings["full_capacity_s"],
        "critical_path": [
            {"span": span_label(p), "s": round(aws_span(report, p["start_s"], p["end_s"]), 1)}
            for p in listed(critical_path(report))
        ],
    }


def run(rounds: int = ROUNDS) -> dict[str, Any]:
    """``rounds`` runs on the same emulators; medians, and the median run's spans and picture."""
    pair = emulators.start(time_scale=SCALE)
    runs: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(rounds):
                report = Path(tmp) / f"{SCENARIO}-{i}.json"
                options = drill.Options(scenario=SCENARIO, report=report, plan_file=ROOT / "plans" / "recsys.json")
                runs.append(measured(drill.run(options, pair, io.StringIO())) | {"report": report})
            chosen = sorted(runs, key=lambda r: r["traffic_s"])[len(runs) // 2]
            for suffix in (".json", ".html"):  # the report, and its picture
                shutil.copyfile(chosen["report"].with_suffix(suffix), (ROOT / "benchmarks" / "rto").with_suffix(suffix))
            for r in runs:
                r.pop("report")
    finally:
        pair.stop()
    plan = json.loads((ROOT / "plans" / "recsys.json").read_text(encoding="utf-8"))
    traffic, full = median([r["traffic_s"] for r in runs]), median([r["full_capacity_s"] for r in runs])
    bounds = limits()
    rto = plan["objectives"]["rto_seconds"]
    return {
        "time_scale": SCALE,
        "scenario": SCENARIO,
        "rounds": rounds,
        "traffic_s": traffic,
        "full_capacity_s": full,
        "plan_rto_s": rto,
        **bounds,
        "traffic_share_of_rto": round(traffic / rto, 3),
        "traffic_to_limit": round(traffic / bounds["limit_traffic_s"], 3),
        "full_capacity_to_limit": round(full / bounds["limit_full_capacity_s"], 3),
        "all_traffic_s": [r["traffic_s"] for r in runs],
        "all_full_capacity_s": [r["full_capacity_s"] for r in runs],
        "median_run": sorted(runs, key=lambda r: r["traffic_s"])[len(runs) // 2],
    }


if __name__ == "__main__":
    os.environ.setdefault("MINISTACK_BIN", str(ROOT / ".venv-ministack" / "bin" / "ministack"))
    print(json.dumps(run(), indent=2))
