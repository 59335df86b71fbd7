"""A picture of a run: one self-contained HTML page (inline CSS and SVG; its Content-Security-Policy lets it fetch
nothing) with the states as bars on a time axis, the critical path marked, the achieved RTO and the RPO exposure
against the plan's targets, the world before and after, and each verification.

Its input is a run report: the drill's JSON report, or ``from_aws``'s, built from a real run's execution history
and ledger entry. Times are seconds from the first alarm's state change (from the run's start when it had none).
"""

from __future__ import annotations

import argparse
import html
import json
from pathlib import Path
from typing import IO, Any

from failover_controller.ledger import Ledger
from failover_controller.names import execution_arn
from failover_controller.prewarm import SK as PREWARM_SK
from failoverctl import inputs
from failoverctl.clock import AURORA_STATES, SCALE_STATES, aws_span, epoch
from failoverctl.follow import timeline_of
from failoverctl.operate import CommandError, Controller, controller, run_input

DATA_BAR = "Aurora, then DynamoDB writes"
SCALE_BAR = "Standby to traffic capacity"
FULL_BAR = "Standby to full capacity"
# A step's own states: its polls and waits are drawn as one bar.
GROUPS = {
    "IsApprovalRequired": "",
    "WaitForApproval": "Approval",
    "StartFullCapacityPolls": FULL_BAR,
    "CheckFullCapacity": FULL_BAR,  # after DNS: the standby's instances keep coming while it serves
    "IsFullCapacity": FULL_BAR,
    "WaitForFullCapacity": FULL_BAR,
    "ServingAtReducedCapacity": "Verify (reduced capacity)",
    "WhichStepFailed": "",
    "WritesNotSwitched": "",
    "IsDnsInSync": "FlipDns",
    "WaitForDns": "FlipDns",
    "CheckDns": "FlipDns",
    "IsDnsDone": "FlipDns",
    "IsSourceDrained": "DrainSource",
    "WaitForDrain": "DrainSource",
    "IsDryRun": "",
    "PromoteAndScaleFailed": "",
    "SwitchDynamoDBWritesFailed": "",
    "ShiftSageMakerWeightsFailed": "",
    "FlipDnsFailed": "",
    "VerifyFailed": "",
    **dict.fromkeys(AURORA_STATES, DATA_BAR),
    **dict.fromkeys(SCALE_STATES, SCALE_BAR),
}
# The Parallel's branches, and what the drill saw of each in the world (its timings).
BRANCHES = ((DATA_BAR, "writer_seen_s"), (SCALE_BAR, "capacity_seen_s"))
TAIL = ("ShiftSageMakerWeights",)
PREWARM_BAR = "Pre-warm: standby scale-up"
DETECTION_BAR = "Detection: first alarm to the run"


def origin(report: dict[str, Any]) -> float:
    """The epoch the run's times count from: the first alarm's state change, else the run's first state."""
    first = report.get("timings", {}).get("first_alarm_at") or report.get("ledger", {}).get("clock_started_at")
    found = epoch(first)
    if found is not None:
        return found
    entered = [epoch(t["entered"]) for t in report.get("timeline", [])]
    return min((e for e in entered if e is not None), default=0.0)


def bars(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps (each with its polls and waits), the Parallel's branches and the pre-warm, as spans in seconds from
    ``origin``, in the order they started."""
    t0 = origin(report)
    spans: dict[str, dict[str, Any]] = {}
    for state in report.get("timeline", []):
        name = GROUPS.get(state["state"], state["state"])
        start, end = epoch(state["entered"]), epoch(state.get("exited")) or epoch(state["entered"])
        if not name or start is None or end is None:
            continue
        span = spans.setdefault(name, {"name": name, "start_s": start - t0, "end_s": end - t0})
        span["start_s"], span["end_s"] = min(span["start_s"], start - t0), max(span["end_s"], end - t0)
    out = list(spans.values())
    started = report.get("timings", {}).get("started_s")
    if started is not None:
        out.append({"name": DETECTION_BAR, "start_s": 0.0, "end_s": float(started)})
    parallel = spans.get("PromoteAndScale")
    timings = report.get("timings", {})
    # A branch ends when the world showed its change (the drill watches it; AWS's history has the branches' states).
    # A change the world showed after the Parallel ended did not hold it: that scale-up's branch ended when the
    # standby had the plan's traffic capacity, which the world's timings do not show (drawn as a tick).
    for label, seen in BRANCHES:
        if parallel and label not in spans and seen in timings:
            end = float(timings[seen])
            end = end if end <= parallel["end_s"] else parallel["start_s"]
            out.append({"name": label, "start_s": parallel["start_s"], "end_s": end})
    prewarm = report.get("prewarm") or {}
    # Until the standby showed active capacity: as the drill saw it, else as the runbook's branch (or, where a
    # history lacks the branches' states, its Parallel) last found it.
    found = spans.get(FULL_BAR) or spans.get(SCALE_BAR) or spans.get("PromoteAndScale") or {}
    scaled = timings.get("capacity_seen_s", found.get("end_s"))
    if prewarm.get("at") is not None and prewarm.get("changed") and scaled is not None:
        began = float(prewarm.get("at_s", prewarm["at"])) - t0
        out.append({"name": PREWARM_BAR, "start_s": began, "end_s": scaled})
    return sorted(out, key=lambda b: b["start_s"])


def critical_path(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The chain of spans that decided when DNS answered with the target: detection (or a pre-warm that began
    at the first alarm), the steps before the Parallel, its longer branch, the steps after it, and DNS."""
    by_name = {b["name"]: b for b in bars(report)}
    timings = report.get("timings", {})
    flip = by_name.get("FlipDns")
    branches = [by_name[label] for label, _ in BRANCHES if label in by_name]
    if flip is None or not branches:
        return []
    parallel = by_name.get("PromoteAndScale")
    last = max(branches, key=lambda b: b["end_s"])
    prewarm = by_name.get(PREWARM_BAR)
    path: list[dict[str, Any]] = []
    if parallel is not None and last["name"] == SCALE_BAR and prewarm is not None:
        path.append(prewarm)
        path.append(
            {**parallel, "start_s": min(prewarm["end_s"], parallel["end_s"]), "via": "the pre-warmed standby, polled"}
        )
    else:
        first = by_name.get("ValidateInput", branches[0])
        path.append({"name": DETECTION_BAR, "start_s": 0.0, "end_s": timings.get("started_s", first["start_s"])})
        path += [by_name[n] for n in ("ValidateInput", "Preflight", "Approval") if n in by_name]
        if parallel is not None:
            path += [{**parallel, "via": last["name"]}, last]
        else:
            path += branches  # one after another
    path += [by_name[n] for n in TAIL if n in by_name]
    answered = timings.get("dns_answered_s", flip["end_s"])
    path.append({**flip, "end_s": answered, "via": "until DNS answers"})
    return path


# --- the page -----------------------------------------------------------------------------------------------------

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1b1f24;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.ok{color:#0a7d32}.bad{color:#b3261e}.muted{color:#5f6b76}
.figures{display:flex;gap:16px;flex-wrap:wrap}.figure{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px}
.figure b{font-size:20px;display:block}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;font-size:13px}
svg text{font:12px system-ui,sans-serif}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _clock(report: dict[str, Any]) -> tuple[float, str]:
    """Wall seconds to the seconds drawn, and their name. A drill's timeline is drawn in its own seconds: its
    waits ran faster and its Lambda calls did not, so no one factor turns it into AWS's (the figures above it are
    on AWS's clock: ``clock.aws_figures``)."""
    scale = float(report.get("time_scale") or report.get("timings", {}).get("time_scale") or 0)
    return (1.0, f"drill s (waits /{scale:g})") if scale else (1.0, "s")


def svg_timeline(report: dict[str, Any]) -> str:
    """The bars on a time axis; the critical path's in red, every other in blue; the alarms and DNS as lines."""
    spans, path = bars(report), critical_path(report)
    critical = {p["name"] for p in path}
    factor, unit = _clock(report)
    timings = report.get("timings", {})
    marks = [(f"alarm {a['alarm']}", a["at_s"]) for a in timings.get("alarms", [])]
    if "dns_answered_s" in timings:
        marks.append(("DNS answers", timings["dns_answered_s"]))
    end = max([b["end_s"] for b in spans] + [m[1] for m in marks] + [1e-9])
    left, width, row = 250, 780, 22

    def x(s: float) -> float:
        return float(left + width * max(0.0, s) / end)

    height = row * (len(spans) + 3)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 20}" height="{height}" role="img" '
        f'aria-label="timeline of the run">'
    ]
    for i in range(6):
        at = end * i / 5
        out.append(
            f'<line x1="{x(at):.1f}" y1="0" x2="{x(at):.1f}" y2="{height - row}" stroke="#eaeef2"/>'
            f'<text x="{x(at):.1f}" y="{height - 6}" text-anchor="middle">{at * factor:.0f}</text>'
        )
    out.append(f'<text x="{left - 8}" y="{height - 6}" text-anchor="end" class="muted">{_e(unit)}</text>')
    for i, b in enumerate(spans):
        on_path = b["name"] in critical
        y = row * (i + 1)
        w = max(2.0, x(b["end_s"]) - x(b["start_s"]))
        out.append(
            f'<g class="bar{" critical" if on_path else ""}" data-state="{_e(b["name"])}">'
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{_e(b["name"])}</text>'
            f'<rect x="{x(b["start_s"]):.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" rx="3" '
            f'fill="{"#d1242f" if on_path else "#4c8bf5"}"><title>{_e(b["name"])}: '
            f"{b['start_s'] * factor:.1f} to {b['end_s'] * factor:.1f} {_e(unit)}</title></rect></g>"
        )
    for name, at in marks:
        out.append(
            f'<line class="mark" x1="{x(at):.1f}" y1="{row / 2}" x2="{x(at):.1f}" y2="{height - row}" '
            f'stroke="#1b1f24" stroke-dasharray="3 3"><title>{_e(name)} at {at * factor:.1f} {_e(unit)}'
            "</title></line>"
        )
    out.append("</svg>")
    return "".join(out)


def _recovery_cells(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Time to traffic and time to full capacity against the RTO: a drill's on AWS's clock (or, time not scaled, its
    own seconds, said so), a real run's from its ledger entry."""
    ledger, timings = report.get("ledger") or {}, report.get("timings", {})
    target = ledger.get("rto_target_s") or timings.get("rto_target_s") or report.get("rto_target_s")
    scaled = timings.get("time_scale") or report.get("time_scale")
    note = " (AWS's clock)" if scaled else (" (drill time, not an estimate)" if "dns_answered_s" in timings else "")
    cells = []
    for key, label in (("traffic_s", "Time to traffic: DNS answers"), ("full_capacity_s", "Time to full capacity")):
        value = timings.get(key, ledger.get(key))
        shown = "-" if value is None else f"{float(value):.0f} s of {target} s{note}"
        if (
            value is None
            and key == "full_capacity_s"
            and (report.get("outcome") or ledger.get("outcome")) == ("reduced_capacity")
        ):
            shown = "not reached: serving at reduced capacity"
        cells.append((label, shown, value is not None and target is not None and float(value) <= float(target)))
    follow = timings.get("clients_follow_s")
    if follow is not None:
        cells.append(("Clients behind caching resolvers (one TTL later)", f"by {float(follow):.0f} s", True))
    return cells


def _figures(report: dict[str, Any]) -> str:
    ledger = report.get("ledger") or {}
    rpo, rpo_target = ledger.get("rpo_exposure_ms"), ledger.get("rpo_target_ms")
    cells = [
        (
            "Outcome",
            report.get("outcome") or ledger.get("outcome"),
            report.get("passed", ledger.get("outcome") == "succeeded"),
        ),
        *_recovery_cells(report),
        (
            "RPO exposure",
            "-" if rpo is None else f"{float(rpo):.0f} ms of {rpo_target} ms",
            rpo is not None and rpo_target is not None and float(rpo) <= float(rpo_target),
        ),
    ]
    return (
        '<div class="figures">'
        + "".join(
            f'<div class="figure" data-figure="{_e(k)}"><span class="muted">{_e(k)}</span>'
            f'<b class="{"ok" if good else "bad"}">{_e(v)}</b></div>'
            for k, v, good in cells
        )
        + "</div>"
    )


def _world(report: dict[str, Any]) -> str:
    before, after = report.get("world_before") or {}, report.get("world_after") or {}
    if not before and not after:
        return '<p class="muted">No world snapshot in this report.</p>'
    rows = []
    for key in sorted(set(before) | set(after)):
        rows.append(
            f"<tr><th>{_e(key)}</th><td><code>{_e(json.dumps(before.get(key), default=str))}</code></td>"
            f"<td><code>{_e(json.dumps(after.get(key), default=str))}</code></td></tr>"
        )
    return "<table><tr><th></th><th>before</th><th>after</th></tr>" + "".join(rows) + "</table>"


def _verification(report: dict[str, Any]) -> str:
    checks = report.get("verification") or []
    if not checks:
        return '<p class="muted">No verification in this report.</p>'
    return (
        "<table><tr><th>check</th><th>expected</th><th>observed</th><th></th></tr>"
        + "".join(
            f'<tr class="check"><td>{_e(c.get("check"))}</td><td>{_e(c.get("expected"))}</td>'
            f"<td>{_e(c.get('observed'))}</td>"
            f'<td class="{"ok" if c.get("ok") else "bad"}">{"ok" if c.get("ok") else "MISMATCH"}</td></tr>'
            for c in checks
        )
        + "</table>"
    )


def listed(path: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The critical path as a list of steps: the Parallel's branch that decided it is named in the Parallel's
    entry (drawn as its own bar), not listed again."""
    parallel = any(p["name"] == "PromoteAndScale" for p in path)
    return [p for p in path if not (parallel and p["name"] in (DATA_BAR, SCALE_BAR))]


def span_label(span: dict[str, Any]) -> str:
    return f"{span['name']} ({span['via']})" if span.get("via") else str(span["name"])


def render(report: dict[str, Any]) -> str:
    factor, unit = _clock(report)
    path = critical_path(report)
    title = f"{report.get('plan', 'recsys')}: {report.get('scenario') or report.get('execution_arn', 'run')}"
    scaled = bool(report.get("time_scale") or report.get("timings", {}).get("time_scale"))
    steps = "".join(
        f"<li>{_e(span_label(p))}: "
        + (f"{aws_span(report, p['start_s'], p['end_s']):.0f} s on AWS's clock, " if scaled else "")
        + f"{(p['end_s'] - p['start_s']) * factor:.1f} {_e(unit)}</li>"
        for p in listed(path)
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="muted">{_e(report.get("execution_arn", ""))}</p>'
        f'{_figures(report)}<h2>Timeline</h2><p class="muted">Seconds from the first alarm\'s state change. Red: the '
        "critical path, what decided when DNS answered with the target.</p>"
        f"{svg_timeline(report)}<h2>Critical path</h2><ol>{steps}</ol>"
        f"<h2>The world, before and after</h2>{_world(report)}<h2>Verification</h2>{_verification(report)}"
        "</body></html>\n"
    )


def write(report: dict[str, Any], path: Path) -> Path:
    path.write_text(render(report), encoding="utf-8")
    return path


# --- a real run, from AWS -------------------------------------------------------------------------------------------


def _steps_world(steps: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What each step found and left, as the ledger recorded it: the world before and after, as the run saw it."""
    before = {name: (r or {}).get("before") for name, r in steps.items() if isinstance(r, dict) and "before" in r}
    after = {name: (r or {}).get("after") for name, r in steps.items() if isinstance(r, dict) and "after" in r}
    return before, after


def from_aws(ctl: Controller, run: str) -> dict[str, Any]:
    """A run report of a real run: its execution history (the timeline) and its ledger entry (figures, steps, the
    pre-warm), read from the controller in ``ctl.region``."""
    name = inputs.run_name(run)
    arn = run if run.startswith("arn:") else execution_arn(ctl.state_machine_arn, name)
    sfn = ctl.factory.client("stepfunctions", ctl.region)
    try:
        desc = sfn.describe_execution(executionArn=arn)
        events = [
            e for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn) for e in page["events"]
        ]
    except Exception as exc:
        raise CommandError(f"cannot read execution {arn}: {exc}") from exc
    start = run_input(desc, name)
    plan = str(start.get("plan") or ctl.plan_name)
    ledger = next((r for r in ctl.ledger.runs(plan, limit=50) if r.get("execution") == name), {})
    steps = ledger.get("steps") or {}
    before, after = _steps_world(steps)
    checks = [
        {
            "check": f"{c.get('name')} {c.get('resource')}",
            "expected": c.get("threshold"),
            "observed": c.get("observed"),
            "ok": c.get("verdict") == "pass",
        }
        for c in (steps.get("verify") or {}).get("checks", [])
    ]
    return {
        "plan": plan,
        "execution_arn": arn,
        "execution_status": desc["status"],
        "outcome": ledger.get("outcome"),
        "timeline": timeline_of(events),
        "ledger": ledger,
        "prewarm": _prewarm_of(ctl.ledger, plan, ledger),
        "timings": {
            "first_alarm_at": ledger.get("clock_started_at") or (start.get("trigger") or {}).get("first_alarm_at")
        },
        "world_before": before,
        "world_after": after,
        "verification": checks,
        "passed": ledger.get("outcome") == "succeeded",
    }


def _prewarm_of(ledger: Ledger, plan: str, run: dict[str, Any]) -> dict[str, Any] | None:
    """The pre-warm that preceded the run: the live one, else the latest ended before the run finished."""
    live = ledger.get(plan, PREWARM_SK)
    if live:
        return live
    ended = ledger.items(plan, f"{PREWARM_SK}#", limit=10)
    finished = float(run.get("finished_at") or 0)
    return next((p for p in ended if float(p.get("at", 0)) <= finished), None)


def command(args: argparse.Namespace, out: IO[str]) -> int:
    """`failoverctl report RUN`: the run's HTML page, from its execution history and ledger entry in --region."""
    run = from_aws(controller(args), args.run)
    path = Path(args.out or f"{inputs.run_name(args.run)}.html")  # a run's name is never a path
    inputs.write_text(path, render(run))
    out.write(f"{path}: {run['execution_status']}, outcome {run['outcome']}\n")
    return 0
