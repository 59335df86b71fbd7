"""A drill's times on AWS's clock: what a time-scaled world measured, with only the waits it scaled multiplied back.

A drill divides AWS's durations by its time scale: the quorum's gap between alarms, Aurora's promotion, the
standby's scale-up, DNS's propagation (the claim alarm's period and Route 53's checkers), and the state machine's
Wait states. Everything else (each Lambda invocation, about a second in the emulator against tens of milliseconds
on AWS) ran at its own speed, and is counted once: multiplying it by the scale would charge the product for the
emulator. So each milestone is read along the chain of the run that led to it, and only the parts of that chain
spent in a scaled wait are multiplied.

The chain of each milestone, from the first alarm (seconds of wall time in, AWS's seconds out):

- traffic (DNS answers with the target, as a client asks the zone's name servers): the quorum's gap, the states
  before the Parallel, the Parallel's slower branch on AWS (each branch's own scaled waits: Aurora's promotion and
  its polls' waits; the scale-up, when the plan's traffic capacity is more than the standby's warm capacity, until
  the standby had it), the states after it, and DNS's propagation from the flip to the answer;
- full capacity (the standby's endpoints at their active count, as the drill's watch saw them): the scale-up's
  request (the pre-warm's at the first alarm, else the runbook's), then the scale-up itself, scaled.

The result is an estimate that still reads a little high (the emulator's Lambda time is counted once, in full),
never one that charges the product for the emulators' own overhead times the scale.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

Span = tuple[float, float]

PARALLEL = "PromoteAndScale"
# The Parallel's branches: their states (as the execution history names them) and the dependency each waits on.
AURORA_STATES = frozenset(
    {
        "PromoteAurora",
        "IsAuroraPromoted",
        "WaitForAurora",
        "CheckAurora",
        "IsAuroraDone",
        "AuroraPromoted",
        "SwitchDynamoDBWrites",
        "DataWritable",
    }
)
SCALE_STATES = frozenset(
    {
        "ScaleUpStandby",
        "IsStandbyReady",
        "StartSageMakerPolls",
        "WaitForSageMaker",
        "CheckSageMaker",
        "IsStandbyReadyYet",
        "StandbyReady",
        "StandbyReadyPolled",
    }
)
# Wait states outside the Parallel that lie on the way to traffic.
MAIN_WAITS = frozenset({"WaitForDns"})


def epoch(stamp: Any) -> float | None:
    """An ISO 8601 time as epoch seconds; None when it is missing or not one."""
    try:
        return datetime.fromisoformat(str(stamp)).timestamp() if stamp else None
    except ValueError:
        return None


def covered(spans: list[Span], start: float, end: float) -> float:
    """How much of [start, end] the spans cover (overlaps counted once)."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in spans if min(b, end) > max(a, start))
    total, reach = 0.0, start
    for a, b in clipped:
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return total


def stretched(start: float, end: float, scaled: list[Span], scale: float) -> float:
    """The AWS seconds of [start, end]: its scaled parts times the scale, the rest once."""
    if end <= start:
        return 0.0
    part = covered(scaled, start, end)
    return (end - start - part) + part * scale


class _Run:
    """A report's timeline as spans in seconds from the first alarm."""

    def __init__(self, report: dict[str, Any]) -> None:
        timings = report.get("timings", {})
        # Whether traffic waited for the scale-up (the plan's traffic capacity above the warm one): a scale-up that
        # a fast world finished early must not be charged to a run that did not wait for it.
        self.gated = bool(report.get("traffic_waits_for_scale_up", timings.get("traffic_waits_for_scale_up")))
        self.dns_scale = float(timings.get("dns_scale") or 0)
        self.timings = timings
        t0 = epoch(timings.get("first_alarm_at")) or 0.0
        self.states: list[tuple[str, float, float]] = []
        for t in report.get("timeline", []):
            entered, exited = epoch(t.get("entered")), epoch(t.get("exited")) or epoch(t.get("entered"))
            if entered is not None and exited is not None:
                self.states.append((t["state"], entered - t0, exited - t0))
        # The world's own record of its scaled changes (the drill's outage proxy): when each began and lasted.
        self.operations: list[tuple[str, float, float]] = [
            (str(op["timing"]), float(op["at"]) - t0, float(op["at"]) - t0 + float(op["seconds"]))
            for op in report.get("scaled") or []
        ]
        self.poll_wait_s = float(timings.get("poll_wait_s") or 0)
        prewarm = report.get("prewarm") or {}
        at = prewarm.get("at_s", prewarm.get("at"))  # epoch seconds (the ledger stores numbers as decimals)
        self.prewarm_s = float(at) - t0 if at is not None and prewarm.get("changed") else None

    def spans(self, names: frozenset[str]) -> list[Span]:
        return [(a, b) for n, a, b in self.states if n in names]

    def waits(self, names: frozenset[str]) -> list[Span]:
        return [(a, b) for n, a, b in self.states if n in names and n.startswith("WaitFor")]

    def exited(self, name: str) -> float | None:
        return next((b for n, _, b in self.states if n == name), None)

    def seen(self, key: str) -> float | None:
        value = self.timings.get(key)
        return float(value) if isinstance(value, int | float) else None


def _quorum_gap(run: _Run) -> list[Span]:
    alarms = [float(a["at_s"]) for a in run.timings.get("alarms", []) if isinstance(a.get("at_s"), int | float)]
    return [(0.0, max(alarms))] if alarms else []


def _scale_up_done(run: _Run, scale: float) -> float | None:
    """AWS seconds from the first alarm to the standby at full capacity: the scale-up's request (the world's record
    of its first scale-up, else the pre-warm's record or the runbook's call), then everything until the drill saw
    the capacity, scaled. A request before the run is Detect's pre-warm (its Lambda time, once); one in the run is
    read along the chain."""
    capacity = run.seen("capacity_seen_s")
    ups = [a for timing, a, _ in run.operations if timing == "sagemaker_scale_up_s"]
    began = min(ups) if ups else run.prewarm_s if run.prewarm_s is not None else run.exited("ScaleUpStandby")
    if capacity is None or began is None:
        return None
    started = next((a for n, a, _ in run.states if n == "ValidateInput"), None)
    before = began if started is None or began < started else aws_at(run, began, scale)
    return before + max(0.0, capacity - began) * scale


def _aurora_waits(run: _Run, parallel: Span) -> list[Span]:
    """The promotion branch's scaled waits: its Wait states and the promotion, as the world recorded it (else from
    the request to the writer seen moving). A history without the branch's states (the emulator's) hides its
    polls' waits: the one after the promotion ended is counted whole, so the figure errs high, never low."""
    promotions = [
        (a, b) for timing, a, b in run.operations if timing.startswith("aurora_") and parallel[0] <= a <= parallel[1]
    ]
    if not promotions:  # from its request (or, unseen, the Parallel's start) to the writer seen moving
        requested, writer = run.exited("PromoteAurora"), run.seen("writer_seen_s")
        requested = parallel[0] if requested is None else requested
        promotions = [(requested, writer)] if writer is not None else []
    waits = run.waits(AURORA_STATES)
    if not run.spans(AURORA_STATES) and promotions:
        end = max(b for _, b in promotions)
        waits.append((end, end + run.poll_wait_s))
    return waits + promotions


def _parallel_end(run: _Run, parallel: Span, before: float, scale: float) -> float:
    """AWS seconds from the first alarm to the Parallel's end: its slower branch on AWS, each with its own scaled
    waits. A scale-up that began before the Parallel (the pre-warm) ends the scale-up branch no sooner than it
    ends on AWS's clock."""
    capacity = run.seen("capacity_seen_s")
    aurora = _aurora_waits(run, parallel)
    scale_up = run.waits(SCALE_STATES)
    requested_scale = run.exited("ScaleUpStandby")
    if run.gated and requested_scale is not None and capacity is not None:
        scale_up.append((requested_scale, capacity))
    start, out = parallel[0], before
    for names, scaled in ((AURORA_STATES, aurora), (SCALE_STATES, scale_up)):
        # A history without the branches' states (the emulator's) ends each branch with the Parallel.
        last = max((b for _, b in run.spans(names)), default=parallel[1])
        end = before + stretched(start, last, scaled, scale)
        done = _scale_up_done(run, scale) if names is SCALE_STATES and run.gated else None
        if done is not None and capacity is not None:
            end = max(end, done + stretched(capacity, last, scaled, scale))
        out = max(out, end)
    return out


def aws_at(run: _Run, t: float, scale: float) -> float:
    """AWS seconds from the first alarm to ``t`` along the main chain (the Parallel as its slower branch). DNS's
    propagation, from the flip to the answer, counts at ``dns_scale``: the drill's alarm periods last whole seconds,
    so at a high time scale a 60 s period lasts longer than 60 s divided by the scale."""
    main = _quorum_gap(run) + run.waits(MAIN_WAITS)
    flipped, answered = run.exited("FlipDns"), run.seen("dns_answered_s")
    if flipped is None or answered is None or t <= flipped:
        return _chain_at(run, t, main, scale)
    propagated = min(t, answered)
    dns = (propagated - flipped) * (run.dns_scale or scale)
    return _chain_at(run, flipped, main, scale) + dns + stretched(propagated, t, main, scale)


def _chain_at(run: _Run, t: float, main: list[Span], scale: float) -> float:
    parallel = next(((a, b) for n, a, b in run.states if n == PARALLEL), None)
    if parallel is None or t <= parallel[0]:
        return stretched(0.0, t, main, scale)
    before = stretched(0.0, parallel[0], main, scale)
    if t < parallel[1]:  # a request inside the Parallel (the scale-up's): its branch's Lambda time, once
        return before + (t - parallel[0])
    return _parallel_end(run, parallel, before, scale) + stretched(parallel[1], t, main, scale)


def _aws_point(run: _Run, t: float, scale: float) -> float:
    """A point of the path to traffic on AWS's clock; the pre-warm's start and the standby seen at full capacity
    (a path through the pre-warm) are on the scale-up's own chain."""
    if run.prewarm_s is not None and math.isclose(t, run.prewarm_s, abs_tol=1e-6):
        return t
    capacity = run.seen("capacity_seen_s")
    done = _scale_up_done(run, scale) if capacity is not None and math.isclose(t, capacity, abs_tol=1e-6) else None
    return aws_at(run, t, scale) if done is None else done


def aws_span(report: dict[str, Any], start: float, end: float) -> float:
    """The AWS seconds of a span of the path to traffic (drill seconds from the first alarm); as measured when the
    drill's time was not scaled."""
    run = _Run(report)
    scale = float(report.get("timings", {}).get("time_scale") or report.get("time_scale") or 0)
    if not scale:
        return max(0.0, end - start)
    return max(0.0, _aws_point(run, end, scale) - _aws_point(run, start, scale))


def aws_figures(report: dict[str, Any]) -> dict[str, float]:
    """``traffic_s`` and ``full_capacity_s`` on AWS's clock, for the milestones the drill saw (a drill whose time
    was not scaled: as measured)."""
    run = _Run(report)
    scale = float(report.get("timings", {}).get("time_scale") or report.get("time_scale") or 0)
    answered, capacity = run.seen("dns_answered_s"), run.seen("capacity_seen_s")
    if not scale:
        out = {"traffic_s": answered} if answered is not None else {}
        return out | ({"full_capacity_s": capacity} if capacity is not None else {})
    figures = {"traffic_s": aws_at(run, answered, scale) if answered is not None else None}
    figures["full_capacity_s"] = _scale_up_done(run, scale)
    return {k: round(v, 1) for k, v in figures.items() if v is not None}
