"""The local drill: a whole failover of the sample application on the embedded emulators.

Starts ministack and moto_server on 127.0.0.1, builds and deploys the real template.yaml into the standby
region with `sam build` / `sam deploy`, creates the application in both regions, sets the plan's alarms to
ALARM and delivers the same "CloudWatch Alarm State Change" event through the deployed EventBridge rule
(the emulator does not emit it by itself), follows the execution Detect starts, verifies the world
independently, and writes a JSON report. Nothing in it touches real AWS: every client points at the
emulators, with test credentials.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from failover_controller.clients import ClientFactory
from failover_controller.ledger import Ledger
from failover_controller.plan import RecoveryPlan
from failover_controller.plan_store import push_plan
from failoverctl import emulators as emu
from failoverctl import world
from failoverctl.stack import stack_parameters

ROOT = Path(__file__).resolve().parents[2]
STACK = "failover-controller"
EVENT_SOURCE = "failoverctl.drill"
ACCOUNT = "000000000000"  # ministack's account
STATE_FILE = ROOT / ".emulators" / "drill.json"
FOLLOW_TIMEOUT = 180.0


class DrillError(RuntimeError):
    """The drill itself could not run (a tool missing, a deploy failed); not a failover outcome."""


@dataclass(frozen=True)
class Scenario:
    name: str
    mode: str
    expected_outcome: str
    story: str
    standby_model_tag: str = world.MODEL_TAG
    after_build: Callable[[RecoveryPlan, ClientFactory], None] | None = None


def _delete_primary_write_region_parameter(plan: RecoveryPlan, f: ClientFactory) -> None:
    f.ssm(plan.primary_region).delete_parameter(Name=plan.write_region_parameter)


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("graceful", "graceful", "succeeded", "planned switchover: both regions up, no data loss"),
        Scenario(
            "ungraceful",
            "ungraceful",
            "succeeded",
            "the primary is treated as unreachable: Aurora failover with data loss allowed within the RPO; "
            "no call goes to the primary region",
        ),
        Scenario(
            "not-ready",
            "graceful",
            "aborted",
            "the standby endpoint serves an older model than the primary: preflight refuses, nothing changes",
            standby_model_tag="2026-10-01",
        ),
        Scenario(
            "step-failure",
            "graceful",
            "failed",
            "the primary's write-region parameter is missing, so switch_dynamodb_writes fails after Aurora was "
            "promoted: compensation aligns writes and DNS with the new writer",
            after_build=_delete_primary_write_region_parameter,
        ),
    )
}


@dataclass
class Options:
    scenario: str = "graceful"
    failback: bool = False
    report: Path = Path("drill-report.json")
    keep: bool = False
    plan_file: Path = ROOT / "plans" / "recsys.json"


@dataclass
class Run:
    """One execution, followed to its end."""

    execution_arn: str
    status: str
    outcome: str | None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    cause: str | None = None


class Printer:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.t0 = time.monotonic()

    def __call__(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def step(self, text: str) -> None:
        self(f"[{time.monotonic() - self.t0:6.1f}s] {text}")


@contextlib.contextmanager
def emulated_env(pair: emu.Emulators) -> Iterator[None]:
    """Every boto3 client of this process talks to the emulators, with test credentials."""
    values = {
        **pair.endpoint_env(),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "",
        "AWS_PROFILE": "",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "SAM_CLI_TELEMETRY": "0",
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    for key in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def python313_dir() -> str:
    """sam build needs the functions' runtime (python3.13) on PATH; pyenv's shim alone is not enough."""
    candidates = [
        shutil.which("python3.13") or "",
        *sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.13*/bin/python3.13")),
    ]
    for candidate in filter(None, candidates):
        try:
            found = subprocess.run(  # noqa: S603
                [candidate, "-c", "import os, sys; print(os.path.dirname(sys.executable))"],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        return found.stdout.strip()
    raise DrillError("sam build needs python3.13 (the functions' runtime) on PATH; install it and run again")


def sam_binary() -> str:
    sam = os.environ.get("SAM_BIN") or str(ROOT / ".venv-sam" / "bin" / "sam")
    if not Path(sam).exists():
        raise DrillError(f"the SAM CLI is not at {sam}: run `make sam` (or set SAM_BIN)")
    return sam


def _run_tool(args: list[str], log: Path, what: str, env: dict[str, str] | None = None) -> None:
    with log.open("ab") as out:
        done = subprocess.run(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, check=False, timeout=600)  # noqa: S603
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-4000:]
        raise DrillError(f"{what} failed (exit {done.returncode}); the end of {log}:\n{tail}")


def build(log: Path) -> None:
    env = {**os.environ, "PATH": f"{python313_dir()}{os.pathsep}{os.environ.get('PATH', '')}"}
    _run_tool([sam_binary(), "build", "--region", "us-west-2"], log, "sam build", env)


def deploy(plan: RecoveryPlan, region: str, workdir: Path, log: Path, f: ClientFactory) -> dict[str, str]:
    """As `make deploy`: the plan pushed to ``region``, then `sam deploy` of the built template there; returns the
    stack's outputs."""
    push_plan(plan, prefix=world.PLAN_PREFIX, region=region, factory=f)
    params = workdir / f"params-{region}.yaml"
    params.write_text(json.dumps(stack_parameters(plan, region, ACCOUNT, alarm_event_source=EVENT_SOURCE)))
    _run_tool(
        [
            sam_binary(),
            "deploy",
            "--region",
            region,
            "--stack-name",
            STACK,
            "--capabilities",
            "CAPABILITY_IAM",
            "--resolve-s3",
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",
            "--no-progressbar",
            "--parameter-overrides",
            f"file://{params}",
        ],
        log,
        f"sam deploy to {region}",
        dict(os.environ),
    )
    stack = f.client("cloudformation", region).describe_stacks(StackName=STACK)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def fire_alarms(plan: RecoveryPlan, f: ClientFactory) -> tuple[str, float]:
    """Put the plan's alarms in place, a quorum of them in ALARM, and deliver the event Detect listens for.

    The standby's own observers go first (they are what still answers when the primary region is down).
    """
    world.create_alarms(plan, f, world.health_check_of(plan, f, plan.primary_region))
    ordered = sorted(plan.signals, key=lambda s: s.region != plan.standby_region)
    firing = ordered[: plan.quorum]
    for signal in firing:
        f.cloudwatch(signal.region).set_alarm_state(AlarmName=signal.name, StateValue="ALARM", StateReason="drill")
    trigger = firing[0]
    now = datetime.now(UTC)
    detail = {
        "alarmName": trigger.name,
        "state": {"value": "ALARM", "reason": "failoverctl drill", "timestamp": now.isoformat()},
        "previousState": {"value": "OK", "reason": "", "timestamp": now.isoformat()},
        "configuration": {"description": "failoverctl drill"},
    }
    sent = time.time()
    result = f.client("events", trigger.region).put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": "CloudWatch Alarm State Change",
                "Detail": json.dumps(detail),
                "Resources": [f"arn:aws:cloudwatch:{trigger.region}:{ACCOUNT}:alarm:{trigger.name}"],
                "Time": now,
            }
        ]
    )
    if result.get("FailedEntryCount"):
        raise DrillError(f"EventBridge refused the alarm event: {result['Entries']}")
    return trigger.name, sent


def wait_for_execution(f: ClientFactory, region: str, state_machine: str, timeout: float = 30.0) -> str:
    sfn = f.client("stepfunctions", region)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        executions = sfn.list_executions(stateMachineArn=state_machine)["executions"]
        if executions:
            return str(executions[0]["executionArn"])
        time.sleep(0.1)
    raise DrillError(f"no execution started within {timeout:.0f}s: Detect did not start a run (see its logs)")


def follow(f: ClientFactory, region: str, execution_arn: str, say: Printer, timeout: float = FOLLOW_TIMEOUT) -> Run:
    """Print one line per state as it finishes, with its duration; return when the execution ends."""
    sfn = f.client("stepfunctions", region)
    seen: set[int] = set()
    entered: dict[str, datetime] = {}
    timeline: list[dict[str, Any]] = []
    started: datetime | None = None
    deadline = time.monotonic() + timeout
    while True:
        desc = sfn.describe_execution(executionArn=execution_arn)
        started = started or desc["startDate"]
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        for event in events:
            if event["id"] in seen:
                continue
            seen.add(event["id"])
            if "stateEnteredEventDetails" in event:
                entered[event["stateEnteredEventDetails"]["name"]] = event["timestamp"]
            elif "stateExitedEventDetails" in event:
                name = event["stateExitedEventDetails"]["name"]
                begin = entered.pop(name, event["timestamp"])
                duration = (event["timestamp"] - begin).total_seconds()
                offset = (begin - started).total_seconds()
                timeline.append(
                    {
                        "state": name,
                        "entered": begin.isoformat(),
                        "exited": event["timestamp"].isoformat(),
                        "duration_s": round(duration, 3),
                    }
                )
                say(f"    +{offset:6.2f}s  {name:<28} {duration:6.2f}s")
        if desc["status"] != "RUNNING":
            for name, begin in entered.items():  # a Fail state is entered, never exited
                timeline.append({"state": name, "entered": begin.isoformat(), "exited": None, "duration_s": 0.0})
                say(f"    +{(begin - started).total_seconds():6.2f}s  {name:<28} (ended the run)")
            return Run(execution_arn, desc["status"], None, timeline, desc.get("error"), desc.get("cause"))
        if time.monotonic() > deadline:
            raise DrillError(f"{execution_arn} still RUNNING after {timeout:.0f}s")
        time.sleep(0.1)


def ledger_run(f: ClientFactory, region: str, table: str, plan: RecoveryPlan, execution_arn: str) -> dict[str, Any]:
    """The run's ledger entry, as Record wrote it ({} if it wrote none)."""
    name = execution_arn.rsplit(":", 1)[-1]
    for run in Ledger(table, region, f).runs(plan.application, limit=50):
        if run.get("execution") == name:
            return run
    return {}


def ledger_outcome(f: ClientFactory, region: str, table: str, plan: RecoveryPlan, execution_arn: str) -> str | None:
    outcome = ledger_run(f, region, table, plan, execution_arn).get("outcome")
    return str(outcome) if outcome else None


def invoke_readiness(f: ClientFactory, region: str, function: str) -> dict[str, Any]:
    """Invoke the deployed Readiness function (what its schedule does) and summarise its report."""
    event = json.loads((ROOT / "events" / "readiness_schedule.json").read_text())
    response = f.client("lambda", region).invoke(FunctionName=function, Payload=json.dumps(event).encode())
    body = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise DrillError(f"the Readiness function failed: {body}")
    report = body["plans"][0]
    return {
        "ready": report["ready"],
        "failing": report["failing"],
        "unknown": report["unknown"],
        "passed": sum(c["verdict"] == "pass" for c in report["checks"]),
        "failing_checks": [
            f"{c['name']} {c['resource']}: {c['detail']}" for c in report["checks"] if c["verdict"] == "fail"
        ],
    }


def emitted_metrics(f: ClientFactory, region: str, record_function: str) -> dict[str, Any]:
    """The run's figures as the Record function emitted them (embedded metric format, in its log)."""
    names = ("FailoverRuns", "FailoverSucceeded", "FailoverFailed", "AchievedRTO", "RPOExposure")
    try:
        events = f.client("logs", region).filter_log_events(
            logGroupName=f"/aws/lambda/{record_function}", filterPattern="FailoverRuns"
        )["events"]
    except Exception:  # noqa: BLE001 - the log is evidence, not a condition of the drill
        return {}
    for event in reversed(events):
        with contextlib.suppress(ValueError):
            doc = json.loads(event["message"])
            return {n: doc[n][0] if isinstance(doc.get(n), list) else doc.get(n) for n in names if n in doc}
    return {}


def expected_world(scenario: Scenario, plan: RecoveryPlan, before: dict[str, Any]) -> dict[str, Any]:
    """What the world must read after the scenario, field by field."""
    primary, standby = plan.primary_region, plan.standby_region
    if scenario.expected_outcome == "aborted":
        return copy.deepcopy(before)
    routed = {r.fqdn: {primary: 0, standby: plan.active_weight} for r in plan.records}
    active = {k: (v.active_weight, v.active_instance_count) for k, v in world.variants_of(plan, standby).items()}
    expected: dict[str, Any] = {"aurora_writer": standby, "dns": routed}
    if scenario.expected_outcome == "failed":  # compensation: writes and DNS follow the writer
        expected["write_region"] = {primary: None, standby: standby}
        return expected
    expected["endpoints"] = {standby: active}
    if scenario.mode == "graceful":
        expected["write_region"] = {primary: standby, standby: standby}
        expected["endpoints"][primary] = {
            k: (v.active_weight, v.standby_instance_count) for k, v in world.variants_of(plan, primary).items()
        }
    else:
        expected["write_region"] = {primary: primary, standby: standby}
        expected["endpoints"][primary] = before["endpoints"][primary]
    return expected


def verify_world(expected: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    checks = []
    for key, want in expected.items():
        if isinstance(want, dict):
            for sub, value in want.items():
                got = after.get(key, {}).get(sub)
                checks.append({"check": f"{key} {sub}", "expected": value, "observed": got, "ok": got == value})
        else:
            got = after.get(key)
            checks.append({"check": key, "expected": want, "observed": got, "ok": got == want})
    return checks


def table(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    rows = [("", "before", "after")]
    rows.append(("Aurora writer", before["aurora_writer"], after["aurora_writer"]))
    for region in before["write_region"]:
        rows.append((f"write region ({region})", before["write_region"][region], after["write_region"].get(region)))
    for region, variants in before["endpoints"].items():
        # One row a variant where a region has several endpoints (keys "endpoint/variant"); one row a region if not.
        if all("/" not in key for key in variants):
            rows.append(
                (
                    f"endpoint {region}",
                    _fmt_endpoint(variants),
                    _fmt_endpoint(after["endpoints"].get(region, {})),
                )
            )
            continue
        for key, (w, n) in variants.items():
            now = after["endpoints"].get(region, {}).get(key)
            rows.append((f"{key} ({region})", f"weight {w:g} x{n}", f"weight {now[0]:g} x{now[1]}" if now else "-"))
    for name in before["dns"]:
        for region in before["dns"][name]:
            rows.append(
                (f"{name.split('.')[0]} DNS {region}", before["dns"][name][region], after["dns"][name].get(region))
            )
    width = max(len(str(r[0])) for r in rows) + 2
    return [f"    {a!s:<{width}}{b!s:<22}{c}" for a, b, c in rows]


def _fmt_endpoint(variants: dict[str, Any]) -> str:
    return ", ".join(f"{name} weight {w:g} x{n}" for name, (w, n) in variants.items()) or "-"


def scenario_plan_doc(options: Options, scenario: Scenario) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(options.plan_file.read_text(encoding="utf-8"))
    doc["signals"]["mode"] = scenario.mode
    doc["signals"]["require_approval"] = False
    return doc


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
        pair = emu.start(detach=options.keep)
    else:
        pair.reset()
    report: dict[str, Any] = {
        "scenario": scenario.name,
        "expected_outcome": scenario.expected_outcome,
        "emulators": {"ministack": pair.ministack_url, "moto_sagemaker": pair.moto_url},
    }
    log = pair.workdir / "drill-tools.log"
    try:
        with emulated_env(pair):
            report |= _drill(options, scenario, pair, say, log)
    finally:
        report["wall_s"] = round(time.monotonic() - wall, 2)
        if own and options.keep:
            STATE_FILE.parent.mkdir(exist_ok=True)
            STATE_FILE.write_text(
                json.dumps(
                    {
                        "pids": pair.pids,
                        "ministack": pair.ministack_url,
                        "moto": pair.moto_url,
                        "workdir": str(pair.workdir),
                    }
                )
            )
            say(f"emulators kept running: ministack {pair.ministack_url}, SageMaker (moto) {pair.moto_url}")
            say("    stop them with: failoverctl drill --stop")
        elif own:
            pair.stop()
        options.report.write_text(json.dumps(_jsonable(report), indent=2) + "\n", encoding="utf-8")
    say(
        f"report: {options.report}   wall time {report['wall_s']:.1f}s   "
        f"{'PASSED' if report.get('passed') else 'FAILED'}"
    )
    return report


@dataclass
class Deployed:
    """The drill's world and controller, ready to be triggered."""

    plan: RecoveryPlan
    before: dict[str, Any]
    outputs: dict[str, str]
    deploy_s: float
    readiness: dict[str, Any]


def _drill(options: Options, scenario: Scenario, pair: emu.Emulators, say: Printer, log: Path) -> dict[str, Any]:
    f = ClientFactory()
    ready = _build_and_deploy(options, scenario, pair, say, log=log, f=f)
    plan, outputs = ready.plan, ready.outputs
    alarm, sent = fire_alarms(plan, f)
    say.step(
        f"{plan.quorum} alarms in ALARM; delivered the 'CloudWatch Alarm State Change' of {alarm} "
        f"to EventBridge in {plan.standby_region}"
    )
    execution = wait_for_execution(f, plan.standby_region, outputs["StateMachineArn"])
    say.step(f"Detect started {execution.rsplit(':', 1)[-1]}")
    run_ = follow(f, plan.standby_region, execution, say)
    run_.outcome = ledger_outcome(f, plan.standby_region, outputs["LedgerTableName"], plan, execution)
    after = world.snapshot(plan, f)
    checks = verify_world(expected_world(scenario, plan, ready.before), after)
    timings = _timings(run_, sent) | {"deploy_s": round(ready.deploy_s, 2)}
    say.step(f"execution {run_.status}, outcome {run_.outcome} (expected {scenario.expected_outcome})")
    if run_.cause:
        say(f"  why: {why(run_.cause)}")
    result = _report(ready, run_, execution, after=after, checks=checks, timings=timings, say=say, f=f)
    passed = run_.outcome == scenario.expected_outcome and all(c["ok"] for c in checks)
    if options.failback and passed:
        result["failback"] = _failback(plan, pair, ready.before, say, log=log, f=f)
        passed = passed and bool(result["failback"]["passed"])
    result["passed"] = passed
    return result


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
        scenario_plan_doc(options, scenario), f, standby_model_tag=scenario.standby_model_tag, store=False
    )
    if scenario.after_build is not None:
        scenario.after_build(plan, f)
    before = world.snapshot(plan, f)
    say.step("sam build ...")
    build(log)
    t = time.monotonic()
    say.step(f"sam deploy of template.yaml to {plan.standby_region} on the emulator ...")
    outputs = deploy(plan, plan.standby_region, pair.workdir, log, f)
    deploy_s = time.monotonic() - t
    say.step(f"deployed in {deploy_s:.1f}s: {outputs['StateMachineArn']}")
    readiness = invoke_readiness(f, plan.standby_region, outputs["ReadinessFunctionName"])
    verdict = "READY" if readiness["ready"] else "NOT READY"
    say.step(
        f"scheduled readiness, invoked now: {plan.application} into {plan.standby_region} is {verdict} "
        f"({readiness['passed']} checks pass, {readiness['failing']} failing, {readiness['unknown']} unknown)"
        + "".join(f"\n    failing: {c}" for c in readiness["failing_checks"])
    )
    return Deployed(plan, before, outputs, deploy_s, readiness)


def _report(
    ready: Deployed,
    run_: Run,
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
    if "dns_s" in timings:
        say(
            f"  controller time: alarm event -> DNS flipped {timings['dns_s']:.2f}s, -> verified "
            f"{timings['verified_s']:.2f}s (emulated dependencies answer at once)"
        )
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


def why(cause: str) -> str:
    """The readable part of a Fail state's cause: its prefix and the Lambda error's message."""
    head, _, payload = cause.partition("{")
    try:
        message = json.loads("{" + payload).get("errorMessage", "")
    except ValueError:
        return cause[:400]
    return f"{head}{message}"[:600]


def _timings(run_: Run, sent: float) -> dict[str, float]:
    """Seconds from the alarm event: to the run's start, to DNS flipped (Verify entered), to verified."""
    out: dict[str, float] = {}
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
    plan: RecoveryPlan, pair: emu.Emulators, original: dict[str, Any], say: Printer, *, log: Path, f: ClientFactory
) -> dict[str, Any]:
    """The same runbook in the other direction, started by hand in the primary region, graceful."""
    primary = plan.primary_region
    say.step(f"failback: deploying the controller to {primary} and starting a graceful run there by hand ...")
    outputs = deploy(plan, primary, pair.workdir, log, f)
    # The emulator publishes no replication figures: supply the (now secondary) primary's, as AWS would.
    world.put_replication_lag(plan, f, primary, 80.0)
    world.put_replication_latency(plan, f, primary, 300.0)
    readiness = invoke_readiness(f, primary, outputs["ReadinessFunctionName"])
    say.step(
        f"readiness of a failback into {primary} (old primary rejoined as secondary, replication caught up): "
        f"{'READY' if readiness['ready'] else 'NOT READY'} ({readiness['passed']} pass, {readiness['failing']} failing)"
        + "".join(f"\n    failing: {c}" for c in readiness["failing_checks"])
    )
    sfn = f.client("stepfunctions", primary)
    name = f"{plan.application}-failback-{int(time.time())}"
    execution = sfn.start_execution(
        stateMachineArn=outputs["StateMachineArn"],
        name=name,
        input=json.dumps(
            {
                "plan": plan.application,
                "target_region": primary,
                "mode": "graceful",
                "trigger": {"type": "manual", "by": "failoverctl drill --failback"},
            }
        ),
    )["executionArn"]
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
        "readiness": readiness,
        "ledger": ledger,
        "outcome": run_.outcome,
        "execution_arn": execution,
        "timeline": run_.timeline,
        "world_after": after,
        "verification": checks,
        "passed": run_.outcome == "succeeded" and not bad,
    }


def stop_kept() -> str:
    """`failoverctl drill --stop`: stop the emulators a `--keep` drill left running."""
    if not STATE_FILE.exists():
        return "no kept emulators to stop"
    state = json.loads(STATE_FILE.read_text())
    emu.stop_pids([int(p) for p in state["pids"]])
    shutil.rmtree(state.get("workdir", ""), ignore_errors=True)
    STATE_FILE.unlink()
    return f"stopped ministack {state['ministack']} and moto {state['moto']}"
