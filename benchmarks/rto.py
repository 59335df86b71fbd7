"""The achieved RTO, measured on the time-scaled world: from the first alarm's state change to the moment DNS
answers with the standby, for the sample plan as it is (pre-warm on suspicion, Aurora and SageMaker in parallel)
and for the same steps one after another (a sequential variant of the state machine generated here and never
deployed anywhere but the emulators, the plan's pre-warm off). Both in one run, on the same emulators.

The world's dependencies take ``benchmarks/dependency_timings.json``'s durations divided by ``SCALE``; the wall
time is multiplied back. The emulators' own overhead (about a second per Lambda invocation in ministack, against
tens of milliseconds on AWS) is multiplied too, so both figures read high, the critical path's by about as much as
the sequential one's.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, median
from failoverctl import drill
from failoverctl.drill import emulators
from failoverctl.drill.outage import dependency_timings
from failoverctl.drill.toolchain import TEMPLATE
from failoverctl.report import critical_path, span_label

SCALE = 10.0
SCENARIO = "ungraceful"  # the sample plan's automatic mode
ROUNDS = 3
PARALLEL = "PromoteAndScale"
TARGET_RATIO = 0.70
TARGET_SHARE_OF_RTO = 0.75


def sequential_definition(asl: dict[str, Any]) -> dict[str, Any]:
    """The state machine with its Parallel's branches run one after another: the first branch's states, then the
    second's, then a Pass that shapes the same result the Parallel did. Each branch task catches as the Parallel
    did (a branch's own catch, there to keep the other branch going, has no branch to keep going here, and its
    states are left out); everything else is unchanged."""
    out = copy.deepcopy(asl)
    states = out["States"]
    parallel = states.pop(PARALLEL)
    names = [branch["StartAt"] for branch in parallel["Branches"]]
    join = f"{PARALLEL}Joined"
    for i, branch in enumerate(parallel["Branches"]):
        follow = names[i + 1] if i + 1 < len(names) else join
        caught = {c["Next"] for s in branch["States"].values() for c in s.get("Catch", [])}
        for name, original in branch["States"].items():
            if name in caught:
                continue
            state = dict(original)
            if state.get("End"):
                state.pop("End")
                state.pop("OutputPath", None)
                state["Next"] = follow
            if state["Type"] == "Task":
                state["Catch"] = parallel.get("Catch", [])
            states[name] = state
    outputs = [
        next(s.get("OutputPath", "$") for n, s in b["States"].items() if s.get("End") and n in states)
        for b in parallel["Branches"]
    ]
    shaped = {key: outputs[int(value.strip("$[]"))] for key, value in parallel.get("ResultSelector", {}).items()}
    states[join] = {
        "Type": "Pass",
        "Parameters": shaped,
        "ResultPath": parallel["ResultPath"],
        "Next": parallel["Next"],
    }
    for state in states.values():
        for key in ("Next", "Default"):
            if state.get(key) == PARALLEL:
                state[key] = names[0]
    if out["StartAt"] == PARALLEL:
        out["StartAt"] = names[0]
    return out


def sequential_template(workdir: Path) -> Path:
    """A copy of template.yaml whose state machine is the sequential variant (written beside it)."""
    asl = json.loads((ROOT / "statemachines" / "failover.asl.json").read_text(encoding="utf-8"))
    definition = workdir / "failover-sequential.asl.json"
    definition.write_text(json.dumps(sequential_definition(asl), indent=2), encoding="utf-8")
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    uri = "DefinitionUri: statemachines/failover.asl.json"
    if text.count(uri) != 1:
        raise RuntimeError(f"template.yaml: expected one {uri!r}")
    template = workdir / "template.yaml"
    template.write_text(text.replace(uri, f"DefinitionUri: {definition}"), encoding="utf-8")
    return template


def _plan_without_prewarm(workdir: Path) -> Path:
    doc = json.loads((ROOT / "plans" / "recsys.json").read_text(encoding="utf-8"))
    doc["sagemaker"]["prewarm_seconds"] = 0
    path = workdir / "recsys-no-prewarm.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def measured(report: dict[str, Any]) -> dict[str, Any]:
    """One run's figures in AWS's seconds: the RTO, the detection (first alarm to the run's start), and each span
    of the critical path."""
    scale = report["time_scale"]
    if not report.get("passed") or "dns_answered_s" not in report["timings"]:
        raise RuntimeError(f"the {report['scenario']} run did not pass: {report.get('error')} {report.get('cause')}")
    path = critical_path(report)
    return {
        "rto_s": round(report["timings"]["dns_answered_s"] * scale, 1),
        "detection_s": round(report["timings"]["started_s"] * scale, 1),
        "critical_path": [
            {"span": span_label(p), "s": round(max(0.0, p["end_s"] - p["start_s"]) * scale, 1)} for p in path
        ],
    }


def run(rounds: int = ROUNDS) -> dict[str, Any]:
    """``rounds`` of the two runs, interleaved on the same emulators; medians, and the median run's spans."""
    pair = emulators.start(time_scale=SCALE)
    runs: dict[str, list[dict[str, Any]]] = {"critical_path": [], "sequential": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            variants = (
                ("critical_path", TEMPLATE, ROOT / "plans" / "recsys.json"),
                ("sequential", sequential_template(work), _plan_without_prewarm(work)),
            )
            for i in range(rounds):
                for label, template, plan in variants:
                    report = work / f"{label}-{i}.json"
                    options = drill.Options(scenario=SCENARIO, report=report, template=template, plan_file=plan)
                    runs[label].append(measured(drill.run(options, pair, io.StringIO())) | {"report": report})
            for label, measured_runs in runs.items():  # the median run's picture, kept beside the results
                chosen = sorted(measured_runs, key=lambda r: r["rto_s"])[len(measured_runs) // 2]
                kept = chosen.pop("report")
                for suffix in (".json", ".html"):  # the report, and its picture (re-rendered from it by report.py)
                    shutil.copyfile(
                        kept.with_suffix(suffix), (ROOT / "benchmarks" / f"rto-{label}").with_suffix(suffix)
                    )
                for other in measured_runs:
                    other.pop("report", None)
    finally:
        pair.stop()
    plan = json.loads((ROOT / "plans" / "recsys.json").read_text(encoding="utf-8"))
    critical, sequential = (median([r["rto_s"] for r in runs[k]]) for k in ("critical_path", "sequential"))
    gap = dependency_timings()["quorum_gap_s"]
    return {
        "quorum_gap_s": gap,
        # The pre-warmed critical path starts at the first alarm and does not grow with the gap; the sequential run
        # does, second for second: the gap from which these medians would meet the target.
        "ratio_met_from_gap_s": math.ceil(gap + critical / TARGET_RATIO - sequential),
        "time_scale": SCALE,
        "scenario": SCENARIO,
        "rounds": rounds,
        "critical_path_s": critical,
        "sequential_s": sequential,
        "plan_rto_s": plan["objectives"]["rto_seconds"],
        "ratio_to_sequential": round(critical / sequential, 3),
        "share_of_plan_rto": round(critical / plan["objectives"]["rto_seconds"], 3),
        "all_rto_s": {k: [r["rto_s"] for r in v] for k, v in runs.items()},
        "runs": {k: sorted(v, key=lambda r: r["rto_s"])[len(v) // 2] for k, v in runs.items()},
    }


if __name__ == "__main__":
    os.environ.setdefault("MINISTACK_BIN", str(ROOT / ".venv-ministack" / "bin" / "ministack"))
    print(json.dumps(run(), indent=2))
