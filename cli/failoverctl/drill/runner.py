"""The local drill: a whole failover of the sample application on the embedded emulators.

Starts ministack and moto_server on 127.0.0.1, builds and deploys the real template.yaml into the standby
region with `sam build` / `sam deploy`, creates the application in both regions, sets the plan's alarms to
ALARM and delivers the same "CloudWatch Alarm State Change" event through the deployed EventBridge rule
(the emulator does not emit it by itself), follows the execution Detect starts, verifies the world
independently, and writes a JSON report. Nothing in it touches real AWS: every client points at the
emulators, with test credentials.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from failover_controller.clients import ClientFactory
from failover_controller.ledger import Ledger
from failover_controller.plan import RecoveryPlan
from failover_controller.prewarm import SK as PREWARM_SK
from failoverctl import clock
from failoverctl import report as run_report
from failoverctl.drill import emulators as emu
from failoverctl.drill import world
from failoverctl.drill.controls import (
    Fired,
    WorldWatch,
    deliver_again,
    detect_decisions,
    emitted_metrics,
    emulated_env,
    fire_alarms,
    function_principals,
    invoke_readiness,
)
from failoverctl.drill.ministack_as_aws import period_s
from failoverctl.drill.outage import dependency_timings
from failoverctl.drill.scenarios import SCENARIOS, DrillError, Scenario, scenario_plan_doc
from failoverctl.drill.toolchain import TEMPLATE, build, deploy
from failoverctl.drill.verification import expected_world, table, verify_world
from failoverctl.follow import FollowedRun, Printer, follow, ledger_outcome, ledger_run, wait_for_execution, why
from failoverctl.paths import DEFAULT_STACK, LOCAL_STATE_FILE, ROOT
from failoverctl.stack import stack_resources


@dataclass
class Options:
    scenario: str = "graceful"
    failback: bool = False
    report: Path = Path("drill-report.json")
    keep: bool = False
    plan_file: Path = ROOT / "plans" / "recsys.json"
    time_scale: float = emu.DEFAULT_TIME_SCALE  # for emulators the drill starts; a given pair keeps its own
    template: Path = TEMPLATE  # a copy: the drill of a changed controller (a role without an action, say)
    setup_only: bool = False  # the world, the controller and the scenario's outage; no alarm, no run
    for_containers: bool = False  # relay the outage proxy to docker0, for `sam local invoke`
    burst: int | None = None  # brown-outs fail this many calls in a row (None: the scenario's own)
    account_concurrency: int = 1000  # the account's Lambda concurrency quota (AWS's default)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))


def run(options: Options, pair: emu.Emulators | None = None, out: IO[str] = sys.stdout) -> dict[str, Any]:
    """The drill. ``pair``: emulators to reuse (reset first); else they are started, and stopped unless keep."""
    if options.scenario not in SCENARIOS:
        raise DrillError(f"unknown scenario {options.scenario!r}: one of {', '.join(SCENARIOS)}")
    scenario = SCENARIOS[options.scenario]
    say = Printer(out)
    wall = time.monotonic()
    own = pair is None
    say(f"failoverctl drill: scenario {scenario.name}: {scenario.story}")
    if pair is None:
        say.step("starting ministack and moto_server on 127.0.0.1 ...")
        pair = emu.start(detach=options.keep, time_scale=options.time_scale)
    else:
        pair.reset()
    if options.for_containers and not pair.container_url:
        _open_to_containers(pair, say, own=own, keep=options.keep)
    report: dict[str, Any] = {
        "scenario": scenario.name,
        "expected_outcome": scenario.expected_outcome,
        "emulators": _addresses(pair),
        "time_scale": pair.time_scale,
    }
    log = pair.workdir / "drill-tools.log"
    try:
        with emulated_env(pair):
            report |= _drill(options, scenario, pair, say, log)
    finally:
        report["wall_s"] = round(time.monotonic() - wall, 2)
        if own and options.keep:
            _keep(pair, say)
        elif own:
            pair.stop()
        options.report.write_text(json.dumps(_jsonable(report), indent=2) + "\n", encoding="utf-8")
        written = [options.report.name]
        if not options.setup_only:
            written.append(run_report.write(_jsonable(report), options.report.with_suffix(".html")).name)
    say(
        f"report: {' and '.join(written)}   wall time {report['wall_s']:.1f}s   "
        f"{'PASSED' if report.get('passed') else 'FAILED'}"
    )
    return report


def _addresses(pair: emu.Emulators) -> dict[str, str]:
    return {
        "ministack": pair.ministack_url,
        "moto_sagemaker": pair.moto_url,
        "proxy": pair.proxy_url,
        "dns": pair.dns,
        "containers": pair.container_url,
        "containers_dns": pair.container_dns,
    }


def _open_to_containers(pair: emu.Emulators, say: Printer, *, own: bool, keep: bool) -> None:
    try:
        url = pair.open_to_containers(detach=keep)
    except ValueError as exc:
        if own:
            pair.stop()
        raise DrillError(f"--for-containers: {exc}") from exc
    say.step(f"relaying the outage proxy and Route 53's DNS to containers: {url}, {pair.container_dns} (UDP)")


def _keep(pair: emu.Emulators, say: Printer) -> None:
    """``--keep``: where the emulators are, for the operator commands' ``--local`` and `failoverctl drill --stop`."""
    state = {"pids": pair.pids, "workdir": str(pair.workdir), "moto": pair.moto_url} | _addresses(pair)
    LOCAL_STATE_FILE.parent.mkdir(exist_ok=True)
    LOCAL_STATE_FILE.write_text(json.dumps(state))
    say(
        f"emulators kept running: ministack {pair.ministack_url}, SageMaker (moto) {pair.moto_url}, "
        f"both behind the outage proxy {pair.proxy_url}; Route 53's DNS on {pair.dns} "
        f"(dig @127.0.0.1 -p {pair.dns.rsplit(':', 1)[-1]} NAME)"
    )
    if pair.container_url:
        say(f"    containers reach the proxy at {pair.container_url} (failoverctl sam-env --local uses it)")
    say("    stop them with: failoverctl drill --stop")


@dataclass
class Deployed:
    """The drill's world and controller, ready to be triggered."""

    plan: RecoveryPlan
    before: dict[str, Any]
    outputs: dict[str, str]
    deploy_s: float
    readiness: dict[str, Any]
    functions: dict[str, str]  # deployed name -> name in the template


def _drill(options: Options, scenario: Scenario, pair: emu.Emulators, say: Printer, log: Path) -> dict[str, Any]:
    f = ClientFactory()
    ready = _build_and_deploy(options, scenario, pair, say, log=log, f=f)
    plan, outputs = ready.plan, ready.outputs
    _start_outage(options, scenario, pair, ready, say)
    if options.setup_only:
        return _set_up(ready, scenario, say)
    # The alarms are the world's: they fire whatever the outage does to API calls (the drill's hands, not a client).
    observer = ClientFactory(endpoints=pair.direct_endpoints())
    gap = dependency_timings()["quorum_gap_s"] / pair.time_scale if pair.time_scale else 0.0
    with WorldWatch(plan, plan.standby_region, observer) as watch:
        if scenario.lag_at_alarm_ms is not None:
            world.put_replication_lag(plan, observer, plan.standby_region, scenario.lag_at_alarm_ms)
        ledger = Ledger(outputs["LedgerTableName"], plan.standby_region, observer)
        fired = fire_alarms(
            plan,
            observer,
            gap_s=gap,
            handled=_first_alarm_handled(scenario, ready, ledger, observer),
            bus=f,
            primary_last=scenario.primary_alarm_completes_quorum,
        )
        say.step(
            f"{plan.quorum} alarms to ALARM, {gap:.2f} s apart ({', '.join(n for n, _ in fired.alarms)}): each one's "
            f"'CloudWatch Alarm State Change' delivered to EventBridge"
        )
        execution = wait_for_execution(f, plan.standby_region, outputs["StateMachineArn"])
        say.step(f"Detect started {execution.rsplit(':', 1)[-1]}")
        duplicate = _deliver_again(ready, execution, observer, say) if scenario.duplicate_delivery else None
        run_ = follow(f, plan.standby_region, execution, say)
    run_.outcome = ledger_outcome(f, plan.standby_region, outputs["LedgerTableName"], plan, execution)
    outage = pair.outage_report()
    # The drill observes the world past the outage: a dark region is read where it lies.
    expected = expected_world(scenario, plan, ready.before)
    after, dns_settled_s = _once_dns_settles(plan, observer, expected["dns"])
    checks = verify_world(expected, after)
    prewarm = ledger.get(plan.application, PREWARM_SK)
    seen = {"timings": _timings(run_, fired, watch.seen, pair.time_scale), "timeline": run_.timeline}
    timings = on_aws_clock(plan, scenario.mode, seen | {"prewarm": prewarm, "scaled": outage["scaled"]})
    timings |= {"deploy_s": round(ready.deploy_s, 2), "dns_settled_s": round(dns_settled_s, 2)}
    _say_outage(outage, say)
    say.step(f"execution {run_.status}, outcome {run_.outcome} (expected {scenario.expected_outcome})")
    if run_.cause:
        say(f"  why: {why(run_.cause)}")
    result = _report(ready, run_, execution, after=after, checks=checks, timings=timings, say=say, f=f)
    result |= {k: outage[k] for k in ("calls", "faults", "iam", "events", "refused_at_completion", "autoscaling")}
    result["scaled"] = outage["scaled"]
    result["plan"] = plan.application
    if duplicate is not None:
        result["duplicate_delivery"] = _runs_after_duplicate(ready, duplicate, observer, say)
    result["prewarm"] = prewarm
    passed = run_.outcome == scenario.expected_outcome and all(c["ok"] for c in checks)
    if duplicate is not None:
        passed = passed and result["duplicate_delivery"]["executions"] == 1
    if options.failback and passed:
        emu.outage_faults(pair.proxy_url, [])  # the region is back: a failback needs both
        result["failback"] = _failback(plan, pair, ready.before, say, log=log, f=f, template=options.template)
        passed = passed and bool(result["failback"]["passed"])
    result["passed"] = passed
    return result


def _first_alarm_handled(
    scenario: Scenario, ready: Deployed, ledger: Ledger, observer: ClientFactory
) -> Callable[[], bool] | None:
    """When the next alarm may fire: once the first alarm's Detect has pre-warmed, or (when the primary's alarm
    completes the quorum) has decided, so that the forwarded alarm is the one that completes it."""
    plan = ready.plan
    if scenario.primary_alarm_completes_quorum:
        return lambda: detect_decisions(observer, plan.standby_region, ready.outputs["DetectFunctionName"]) >= 1
    if plan.prewarm_seconds:
        return lambda: ledger.get(plan.application, PREWARM_SK) is not None
    return None


def _say_outage(outage: dict[str, Any], say: Printer) -> None:
    say.step(calls_summary(outage["calls"], outage["faults"]))
    say(
        f"  IAM: {outage['iam']['evaluated']} calls of {outage['iam']['functions']} functions evaluated against "
        f"their roles' policies, {len(outage['iam']['denials'])} denied"
        + "".join(f"\n    denied: {d['function']} {d['action']} on {d['resource']}" for d in outage["iam"]["denials"])
    )
    for refusal in outage["refused_at_completion"]:
        say(f"  the emulator refused {refusal['operation']} {refusal['key']} when it was due: {refusal['code']}")


def _start_outage(options: Options, scenario: Scenario, pair: emu.Emulators, ready: Deployed, say: Printer) -> None:
    """The scenario's faults and the world's time scale and capacity, from now on."""
    plan = ready.plan
    faults = scenario.faults(plan, options.burst)
    emu.outage_faults(pair.proxy_url, faults, ready.functions)
    capacity = scenario.capacity(plan) if scenario.capacity else None
    emu.outage_time(pair.proxy_url, pair.time_scale, capacity, scenario.aurora_reading)
    if pair.time_scale:
        say.step(
            f"time runs {pair.time_scale:g} times faster than on AWS: Aurora, SageMaker and Route 53 changes take "
            "benchmarks/dependency_timings.json's durations, divided"
        )
    for fault in faults:
        say.step(f"outage: {describe_fault(fault)}")


def _runs_after_duplicate(
    ready: Deployed, decision: dict[str, Any], observer: ClientFactory, say: Printer
) -> dict[str, Any]:
    sfn = observer.client("stepfunctions", ready.plan.standby_region)
    runs = sfn.list_executions(stateMachineArn=ready.outputs["StateMachineArn"])["executions"]
    say(
        f"  the quorum's event delivered again: Detect {decision.get('outcome')} ({decision.get('reason')}); "
        f"{len(runs)} execution(s) in all"
    )
    return {"decision": decision, "executions": len(runs)}


def _deliver_again(ready: Deployed, execution: str, observer: ClientFactory, say: Printer) -> dict[str, Any]:
    """The quorum's event once more, to the standby's Detect (EventBridge delivers at least once)."""
    region = ready.plan.standby_region
    start = json.loads(observer.client("stepfunctions", region).describe_execution(executionArn=execution)["input"])
    decision = deliver_again(observer, region, ready.outputs["DetectFunctionName"], start)
    say.step(f"EventBridge delivered the quorum's event {start['trigger']['event_id']} to Detect again")
    return decision


def _set_up(ready: Deployed, scenario: Scenario, say: Printer) -> dict[str, Any]:
    """``--setup-only``: the world as the scenario leaves it before its alarms, for a person or `sam local invoke`
    to act on (docs/drills.md). Passed: the scheduled readiness said what the scenario expects."""
    expect_ready = scenario.expected_outcome != "aborted"
    say.step("setup only: no alarm fired, no run started")
    return {
        "setup_only": True,
        "plan": ready.plan.application,
        "outputs": ready.outputs,
        "world_before": ready.before,
        "readiness": ready.readiness,
        "passed": bool(ready.readiness["ready"]) == expect_ready,
    }


def _build_and_deploy(
    options: Options, scenario: Scenario, pair: emu.Emulators, say: Printer, *, log: Path, f: ClientFactory
) -> Deployed:
    """The scenario's application in both regions, the controller built and deployed into the standby, and its
    scheduled readiness invoked once."""
    say.step(
        "creating the application in both regions (Aurora global cluster, DynamoDB global tables, "
        "SageMaker endpoints, Route 53 records) ..."
    )
    plan = world.build(
        scenario_plan_doc(options.plan_file, scenario),
        f,
        lag_ms=scenario.lag_ms,
        standby_model_tag=scenario.standby_model_tag,
        store=False,
        name_servers=[pair.name_server],
    )
    world.autoscale_standby(plan, f)
    world.create_alarms(plan, f, world.health_check_of(plan, f, plan.primary_region))  # in place before any outage
    if scenario.after_build is not None:
        scenario.after_build(plan, f)
    before = world.snapshot(plan, f)
    emu.outage_account(pair.proxy_url, options.account_concurrency)
    say.step("sam build ...")
    build(log, options.template, pair.workdir)
    t = time.monotonic()
    functions: dict[str, str] = {}
    if scenario.primary_alarm_completes_quorum:
        # Each region's roles are read right after its deploy: the emulator's IAM is global (enforce_iam).
        say.step(f"sam deploy of template.yaml to {plan.primary_region} (it forwards that region's alarms) ...")
        deploy(plan, plan.primary_region, pair, log, f, template=options.template)
        functions = enforce_iam(pair, f, [plan.primary_region])
    say.step(f"sam deploy of template.yaml to {plan.standby_region} on the emulator ...")
    outputs = deploy(plan, plan.standby_region, pair, log, f, template=options.template)
    deploy_s = time.monotonic() - t
    say.step(f"deployed in {deploy_s:.1f}s: {outputs['StateMachineArn']}")
    functions |= enforce_iam(pair, f, [plan.standby_region], merge=bool(functions))
    say.step(f"IAM enforced: each of the {len(functions)} functions may do only what its role's policies allow")
    readiness = invoke_readiness(f, plan.standby_region, outputs["ReadinessFunctionName"])
    verdict = "READY" if readiness["ready"] else "NOT READY"
    say.step(
        f"scheduled readiness, invoked now: {plan.application} into {plan.standby_region} is {verdict} "
        f"({readiness['passed']} checks pass, {readiness['failing']} failing, {readiness['unknown']} unknown)"
        + "".join(f"\n    failing: {c}" for c in readiness["failing_checks"])
    )
    return Deployed(plan, before, outputs, deploy_s, readiness, functions)


def _report(
    ready: Deployed,
    run_: FollowedRun,
    execution: str,
    *,
    after: dict[str, Any],
    checks: list[dict[str, Any]],
    timings: dict[str, float],
    say: Printer,
    f: ClientFactory,
) -> dict[str, Any]:
    """Print the ledger, the metrics, the world before and after and the verification; return the report."""
    plan, outputs = ready.plan, ready.outputs
    ledger = ledger_run(f, plan.standby_region, outputs["LedgerTableName"], plan, execution)
    emf = emitted_metrics(f, plan.standby_region, outputs["RecordFunctionName"])
    figures = ("outcome", "achieved_rto_s", "rto_target_s", "rpo_exposure_ms", "rpo_target_ms")
    say("  the ledger: " + ", ".join(f"{k}={ledger.get(k)}" for k in figures))
    if emf:
        say(
            "  metrics (EMF in the Record function's log; the emulator does not turn EMF into metrics): "
            + ", ".join(f"{k}={v}" for k, v in emf.items())
        )
    say("  the world, read back independently:")
    for line in table(ready.before, after):
        say(line)
    bad = [c for c in checks if not c["ok"]]
    say(
        f"  verified {len(checks) - len(bad)}/{len(checks)} expectations"
        + "".join(f"\n    MISMATCH {c['check']}: expected {c['expected']}, observed {c['observed']}" for c in bad)
    )
    for line in recovery_summary(timings, plan.standby_region):
        say(line)
    return {
        "readiness": ready.readiness,
        "ledger": ledger,
        "metrics": emf,
        "outcome": run_.outcome,
        "execution_status": run_.status,
        "execution_arn": execution,
        "error": run_.error,
        "cause": run_.cause,
        "timeline": run_.timeline,
        "world_before": ready.before,
        "world_after": after,
        "verification": checks,
        "timings": timings,
    }


def recovery_summary(timings: dict[str, Any], region: str) -> list[str]:
    """The two recovery figures as the drill prints them: on AWS's clock when its time was scaled, else the drill's
    own seconds, said plainly not to be estimates."""
    scaled, rto = timings.get("time_scale"), timings.get("rto_target_s")
    unit = f"s on AWS's clock (drill time x{scaled:g}, only its scaled waits multiplied back)" if scaled else "s"
    lines = []
    for key, what in (("traffic_s", f"DNS answers with {region}"), ("full_capacity_s", "the standby at full capacity")):
        if key in timings:
            lines.append(f"  from the first alarm: {what} after {timings[key]:.0f} {unit}, against an RTO of {rto} s")
    if "clients_follow_s" in timings:
        lines.append(f"  clients behind caching resolvers follow one TTL later: by {timings['clients_follow_s']:.0f} s")
    if lines and not scaled:
        lines.append("  (time not scaled: emulated dependencies answer at once; these are not estimates of AWS's)")
    return lines


def function_names(f: ClientFactory, region: str) -> dict[str, str]:
    """The deployed functions, as their user agent names them (``REGION.NAME``), to their names in the template."""
    return {
        f"{region}.{r['PhysicalResourceId']}": r["LogicalResourceId"].removesuffix("Function")
        for r in stack_resources(f, region, DEFAULT_STACK)
        if r["ResourceType"] == "AWS::Lambda::Function"
    }


def enforce_iam(pair: emu.Emulators, f: ClientFactory, regions: list[str], *, merge: bool = False) -> dict[str, str]:
    """The outage proxy evaluates every call of the functions deployed in ``regions`` against their roles' policies,
    read now, from now on (``merge``: as well as the functions already held); returns their names (deployed -> in
    the template). Read each region's right after its deploy: the emulator's IAM is global, and the stacks of two
    regions give their roles the same names, so a second deploy overwrites the first's policies (on AWS the names
    differ)."""
    names: dict[str, str] = {}
    principals: dict[str, dict[str, Any]] = {}
    for region in regions:
        found = function_names(f, region)
        names |= found
        principals |= function_principals(f, list(found), region)
    emu.outage_iam(pair.proxy_url, principals, merge=merge)
    emu.outage_callers(pair.proxy_url, names)
    return names


def describe_fault(fault: dict[str, Any]) -> str:
    where = " ".join(x for x in (fault.get("region"), fault.get("service")) if x) or "everywhere"
    window = f"from {fault.get('start_s', 0)} s" + (f" to {fault['end_s']} s" if fault.get("end_s") else "")
    if fault["kind"] == "blackout":
        return f"blackout of {where} {window}: no answer ({fault.get('style', 'hang')})"
    shares = ", ".join(
        f"{fault[k]:.0%} {name}" for k, name in (("error_rate", "5xx"), ("throttle_rate", "throttled")) if fault.get(k)
    )
    bursts = f", in bursts of {fault['burst']} calls" if shares and fault.get("burst", 1) > 1 else ""
    return (
        f"brownout of {where} {window}: +{fault.get('latency_s', 0)} s per call" + (f", {shares}" if shares else "")
    ) + bursts


def calls_summary(calls: list[dict[str, Any]], faults: list[dict[str, Any]]) -> str:
    """One line: how many calls, by outcome and by region, and how many of them each fault touched."""
    by_outcome: dict[str, int] = {}
    by_region: dict[str, int] = {}
    for c in calls:
        by_outcome[c["outcome"]] = by_outcome.get(c["outcome"], 0) + c["count"]
        by_region[c["region"]] = by_region.get(c["region"], 0) + c["count"]
    total = sum(by_outcome.values())
    outcomes = ", ".join(f"{n} {o}" for o, n in sorted(by_outcome.items(), key=lambda x: -x[1]))
    regions = ", ".join(f"{r} {n}" for r, n in sorted(by_region.items()))
    touched = "".join(
        f"; {f['kind']} of {' '.join(x for x in (f.get('region'), f.get('service')) if x) or 'everything'}: "
        f"{f['affected']} calls"
        for f in faults
    )
    return f"AWS calls from the alarm to the end: {total} ({outcomes}); by region: {regions}{touched}"


def on_aws_clock(plan: RecoveryPlan, mode: str, report: dict[str, Any]) -> dict[str, Any]:
    """The run's ``timings`` with the two recovery figures in AWS's seconds (``clock.aws_figures``: only the waits
    the world scaled, ``scaled``, are multiplied back), when clients behind caching resolvers follow (one TTL after
    DNS answers), and the plan's RTO. ``report``: the run's timings, timeline, pre-warm and scaled changes."""
    gated = any(
        plan.traffic_counts(e, mode)[v.variant_name] > v.standby_instance_count
        for e in plan.endpoints[plan.standby_region]
        for v in e.variants
    )
    timings = report["timings"] | {"traffic_waits_for_scale_up": gated}
    if timings["time_scale"]:
        dependencies = dependency_timings()
        claim, scale = dependencies["claim_period_s"], timings["time_scale"]
        timings["dns_scale"] = round(claim / period_s(claim, scale), 3)  # the claim alarm's period: whole seconds
        timings["poll_wait_s"] = round(dependencies["poll_interval_s"] / scale, 3)
    out: dict[str, Any] = timings | clock.aws_figures(report | {"timings": timings})
    out["rto_target_s"] = plan.rto_seconds
    if "traffic_s" in out:
        out["clients_follow_s"] = round(out["traffic_s"] + max((r.ttl for r in plan.records), default=0), 1)
    return out


def _timings(run_: FollowedRun, fired: Fired, seen: dict[str, float], scale: float) -> dict[str, Any]:
    """Seconds from the first alarm's state change: each alarm, the run's start, DNS flipped (Verify entered),
    verified, and what the world showed (``seen``: the writer moved, the target at capacity, DNS answering with the
    target as a client asks it), in the drill's seconds; ``on_aws_clock`` gives them in AWS's."""
    sent = fired.first_at
    out: dict[str, Any] = {
        "time_scale": scale,
        "first_alarm_at": datetime.fromtimestamp(sent, UTC).isoformat(),
        "alarms": [{"alarm": name, "at_s": round(at - sent, 3)} for name, at in fired.alarms],
    }
    for name, at in seen.items():
        out[f"{name}_seen_s"] = round(at - sent, 3)
    if "dns" in seen:
        out["dns_answered_s"] = out.pop("dns_seen_s")
    for key, state, edge in (
        ("started_s", "ValidateInput", "entered"),
        ("dns_s", "Verify", "entered"),
        ("verified_s", "Verify", "exited"),
    ):
        stamp = next((t[edge] for t in run_.timeline if t["state"] == state and t[edge]), None)
        if stamp:
            out[key] = round(datetime.fromisoformat(stamp).timestamp() - sent, 3)
    return out


def _failback(
    plan: RecoveryPlan,
    pair: emu.Emulators,
    original: dict[str, Any],
    say: Printer,
    *,
    log: Path,
    f: ClientFactory,
    template: Path,
) -> dict[str, Any]:
    """The same runbook in the other direction, started by hand in the primary region, graceful."""
    primary = plan.primary_region
    say.step(f"failback: deploying the controller to {primary} and starting a graceful run there by hand ...")
    outputs = deploy(plan, primary, pair, log, f, template=template)
    enforce_iam(pair, f, [primary], merge=True)
    waited = _until_resynced(plan, f, say)
    # The emulator publishes no replication figures: supply the (now secondary) primary's, as AWS would.
    world.put_replication_lag(plan, f, primary, 80.0)
    world.put_replication_latency(plan, f, primary, 300.0)
    readiness = invoke_readiness(f, primary, outputs["ReadinessFunctionName"])
    say.step(
        f"readiness of a failback into {primary} (old primary rejoined as secondary, replication caught up): "
        f"{'READY' if readiness['ready'] else 'NOT READY'} ({readiness['passed']} pass, {readiness['failing']} failing)"
        + "".join(f"\n    failing: {c}" for c in readiness["failing_checks"])
    )
    execution = _start_by_hand(f, plan, primary, outputs["StateMachineArn"])
    run_ = follow(f, primary, execution, say)
    ledger = ledger_run(f, primary, outputs["LedgerTableName"], plan, execution)
    run_.outcome = ledger.get("outcome")
    say(
        f"  the ledger in {primary}: achieved_rto_s={ledger.get('achieved_rto_s')}, "
        f"rpo_exposure_ms={ledger.get('rpo_exposure_ms')}"
    )
    after = world.snapshot(plan, f)
    checks = verify_world(original, after)
    bad = [c for c in checks if not c["ok"]]
    say.step(
        f"failback {run_.status}, outcome {run_.outcome}; the original state restored: "
        f"{len(checks) - len(bad)}/{len(checks)} checks"
        + "".join(f"\n    MISMATCH {c['check']}: expected {c['expected']}, observed {c['observed']}" for c in bad)
    )
    return {
        "resync_waited_s": waited,
        "readiness": readiness,
        "ledger": ledger,
        "outcome": run_.outcome,
        "execution_arn": execution,
        "timeline": run_.timeline,
        "world_after": after,
        "verification": checks,
        "passed": run_.outcome == "succeeded" and not bad,
    }


def _until_resynced(plan: RecoveryPlan, f: ClientFactory, say: Printer, timeout_s: float = 120.0) -> float:
    """A failback's switchover needs the old primary connected: after a failover with data loss it is
    pending-resync until it has resynced (``aurora_resync_s``, scaled). Waits for it, as an operator would; seconds."""
    primary, t = plan.primary_region, time.monotonic()
    while True:
        gc = f.rds(primary).describe_global_clusters(GlobalClusterIdentifier=plan.global_cluster_id)["GlobalClusters"]
        statuses = {
            m["DBClusterArn"].rsplit(":", 1)[-1]: m.get("SynchronizationStatus") for m in gc[0]["GlobalClusterMembers"]
        }
        status = statuses.get(plan.aurora_clusters[primary].lower())
        if status != "pending-resync":
            break
        if time.monotonic() - t > timeout_s:
            raise DrillError(
                f"the old primary {plan.aurora_clusters[primary]} was still pending-resync after {timeout_s:.0f} s"
            )
        time.sleep(0.2)
    waited = round(time.monotonic() - t, 2)
    if waited > 0.2:
        say.step(
            f"failback: the old primary resynced ({waited:.1f} s; pending-resync until then, as after any failover)"
        )
    return waited


def _once_dns_settles(
    plan: RecoveryPlan, observer: ClientFactory, routed: dict[str, Any], timeout_s: float = 30.0
) -> tuple[dict[str, Any], float]:
    """The world after the run, once DNS answers as expected or ``timeout_s`` passed, and how long that took. A run
    that compensates claims the traffic for the writer and ends without waiting for DNS: Route 53 follows the claim
    after its alarm's period and the health check's interval (the emulator's alarms keep real time)."""
    started = time.monotonic()
    while True:
        after = world.snapshot(plan, observer)
        waited = time.monotonic() - started
        if after.get("dns") == routed or waited >= timeout_s:
            return after, waited
        time.sleep(0.25)


def _start_by_hand(f: ClientFactory, plan: RecoveryPlan, region: str, state_machine: str) -> str:
    """A graceful run into ``region``, started as an operator starts it."""
    execution: str = f.client("stepfunctions", region).start_execution(
        stateMachineArn=state_machine,
        name=f"{plan.application}-failback-{int(time.time())}",
        input=json.dumps(
            {
                "plan": plan.application,
                "target_region": region,
                "mode": "graceful",
                "trigger": {"type": "manual", "by": "failoverctl drill --failback"},
            }
        ),
    )["executionArn"]
    return execution


def stop_kept() -> str:
    """`failoverctl drill --stop`: stop the emulators a `--keep` drill left running."""
    if not LOCAL_STATE_FILE.exists():
        return "no kept emulators to stop"
    state = json.loads(LOCAL_STATE_FILE.read_text())
    emu.stop_pids([int(p) for p in state["pids"]])
    shutil.rmtree(state.get("workdir", ""), ignore_errors=True)
    LOCAL_STATE_FILE.unlink()
    return f"stopped ministack {state['ministack']} and moto {state['moto']}"
