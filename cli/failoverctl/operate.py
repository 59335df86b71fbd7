"""failoverctl's operator commands against a deployed controller: readiness, failover, approve, reject, status.

They talk to real AWS through the normal credential chain and ``--region``, or to the local emulators
(``--local``: the endpoints a ``failoverctl drill --keep`` left running; or explicit ``--endpoint-url``).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from failover_controller.clients import ClientFactory
from failover_controller.errors import FailoverError, InputInvalid
from failover_controller.ledger import Ledger
from failover_controller.names import DEFAULT_PLAN_PREFIX, execution_arn
from failover_controller.plan import RecoveryPlan, load_plan_file
from failover_controller.plan_store import PlanStore, push_plan
from failover_controller.readiness import assess
from failover_controller.reads import dns
from failover_controller.reads.aurora import global_cluster, settled_writer_region
from failover_controller.run_context import parse_start
from failover_controller.steps.base import StepRequest
from failoverctl import inputs
from failoverctl.follow import FollowError, Printer, follow, ledger_outcome, why
from failoverctl.paths import DEFAULT_STACK, LOCAL_STATE_FILE
from failoverctl.stack import account_concurrency, stack_reservation, stack_resources


class CommandError(RuntimeError):
    """The command could not do its job (no stack, no such run, AWS refused): exit 3 with this message."""


@dataclass(frozen=True)
class Controller:
    """A deployed stack in one region: where its state machine, ledger and plans are."""

    region: str
    stack: str
    state_machine_arn: str
    ledger_table: str
    plan_name: str
    factory: ClientFactory
    plan_prefix: str = DEFAULT_PLAN_PREFIX  # the stack's PlanParameterPrefix

    def plan(self, name: str | None = None) -> RecoveryPlan:
        return PlanStore(self.plan_prefix, self.region, self.factory, max_age=0).load(name or self.plan_name)

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.ledger_table, self.region, self.factory)


def factory_for(args: argparse.Namespace) -> ClientFactory:
    """--local / --endpoint-url: clients of the emulators, with test credentials; else the normal chain."""
    endpoints: dict[str, str] = {}
    if getattr(args, "local", False):
        state = _kept_state()
        if not state:
            raise CommandError("no local emulators are running: start them with `failoverctl drill --keep`")
        if state.get("proxy"):  # through the outage proxy, like every call of the drill
            endpoints = dict.fromkeys(("*", "sagemaker", "application-autoscaling"), state["proxy"])
        else:
            endpoints = {"*": state["ministack"], "sagemaker": state["moto"], "application-autoscaling": state["moto"]}
    elif getattr(args, "endpoint_url", None):
        endpoints = {"*": args.endpoint_url}
        if args.sagemaker_endpoint_url:
            endpoints["sagemaker"] = endpoints["application-autoscaling"] = args.sagemaker_endpoint_url
    if not endpoints:
        return ClientFactory()
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test")  # noqa: S106 - emulator
    return ClientFactory(session=session, endpoints=endpoints)


def controller(args: argparse.Namespace, region: str | None = None) -> Controller:
    region = region or args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise CommandError("no region: pass --region (the region of the controller to talk to)")
    factory = factory_for(args)
    try:
        stack = factory.client("cloudformation", region).describe_stacks(StackName=args.stack)["Stacks"][0]
    except (ClientError, BotoCoreError) as exc:
        raise CommandError(f"cannot read stack {args.stack} in {region}: {exc}") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    missing = [k for k in ("StateMachineArn", "LedgerTableName") if k not in outputs]
    if missing:
        raise CommandError(f"stack {args.stack} in {region} has no output {', '.join(missing)}: is it deployed?")
    return Controller(
        region,
        args.stack,
        outputs["StateMachineArn"],
        outputs["LedgerTableName"],
        params.get("PlanName", ""),
        factory,
        params.get("PlanParameterPrefix") or DEFAULT_PLAN_PREFIX,
    )


def _table(rows: list[list[Any]], out: IO[str]) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _short(value: Any, width: int = 40) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def readiness(args: argparse.Namespace, out: IO[str]) -> int:
    """The preflight checks of a failover of PLAN into --region, as a table; exit 0 ready, 1 not ready."""
    ctl = controller(args)
    report = assess(ctl.plan(args.plan), ctl.region, ctl.factory)
    if args.json:
        out.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        rows = [["VERDICT", "CHECK", "RESOURCE", "OBSERVED", "WANTED", "DETAIL"]]
        rows += [
            [
                c["verdict"].upper(),
                c["name"],
                _short(c["resource"], 48),
                _short(c["observed"]),
                _short(c["threshold"], 24),
                c["detail"],
            ]
            for c in report["checks"]
        ]
        _table(rows, out)
        out.write(
            f"\n{report['plan']} -> {report['region']}: {'READY' if report['ready'] else 'NOT READY'} "
            f"({report['failing']} failing, {report['unknown']} unknown)\n"
        )
    return 0 if report["ready"] else 1


# A run that found the world already where it was asked ("noop") is done too: exit 0, as a step run again is.
DONE_OUTCOMES = frozenset({"succeeded", "noop", "dry_run"})


def failover(args: argparse.Namespace, out: IO[str]) -> int:
    """Start the runbook in the --to region with validated input, and follow it live."""
    start: dict[str, Any] = {
        "plan": args.plan,
        "target_region": args.to,
        "mode": args.mode,
        "dry_run": args.dry_run,
        "require_approval": args.require_approval,
        "force_beyond_rpo": args.force_beyond_rpo,
        "trigger": {"type": "manual", "by": _who(), "reason": args.reason or "failoverctl failover"},
    }
    if args.poll_seconds is not None:
        start["poll_seconds"] = args.poll_seconds
    parse_start(start)
    ctl = controller(args, region=args.to)
    plan = ctl.plan(args.plan)
    plan.require_region(args.to)
    writer = writer_now(plan, args.to, ctl.factory)
    if writer:
        start["expected_writer"] = writer
    name = args.name or f"{args.plan}-manual-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    sfn = ctl.factory.client("stepfunctions", ctl.region)
    try:
        arn = sfn.start_execution(stateMachineArn=ctl.state_machine_arn, name=name, input=json.dumps(start))[
            "executionArn"
        ]
    except ClientError as exc:
        raise CommandError(f"StartExecution refused: {exc}") from exc
    say = Printer(out)
    say(f"started {name} in {ctl.region} ({args.mode}{', dry run' if args.dry_run else ''})")
    say(
        f"it promotes only while the Aurora writer stays in {writer}"
        if writer
        else "the Aurora writer could not be read here: the run compares with what its preflight sees"
    )
    if args.require_approval:
        say(f"it will wait for approval: failoverctl approve {name} --region {ctl.region}")
    if args.no_follow:
        say(arn)
        return 0
    run = follow(ctl.factory, ctl.region, arn, say, timeout=args.timeout)
    outcome = ledger_outcome(ctl.factory, ctl.region, ctl.ledger_table, ctl.plan(args.plan), arn)
    say(f"{run.status}: outcome {outcome}")
    if run.cause:
        say(f"why: {why(run.cause)}")
    return 0 if outcome in DONE_OUTCOMES else 1


def writer_now(plan: RecoveryPlan, region: str, factory: ClientFactory) -> str | None:
    """The Aurora writer's region as seen from ``region`` now, for the run's compare and swap (expected_writer):
    two people or controllers starting failovers at once then move the database at most once."""
    scope = StepRequest(plan=plan, target_region=region, mode="graceful", dry_run=True, action="check", clients=factory)
    try:
        return settled_writer_region(global_cluster(scope))
    except FailoverError:
        return None


def _who() -> str:
    with contextlib.suppress(Exception):
        return getpass.getuser()
    return "unknown"


def run_input(desc: dict[str, Any], name: str) -> dict[str, Any]:
    """The input a run was started with (DescribeExecution's ``input``): an object for a run of this controller."""
    try:
        start = json.loads(desc.get("input") or "{}")
    except ValueError:
        start = None
    if not isinstance(start, dict):
        raise InputInvalid(f"run {name}", ["its input is not a JSON object: it is not a run of this controller"])
    return start


def _approval(ctl: Controller, run: str) -> tuple[str, str, str]:
    """(plan, execution name, task token) of a run waiting for approval."""
    name = inputs.run_name(run)
    arn = execution_arn(ctl.state_machine_arn, name)
    sfn = ctl.factory.client("stepfunctions", ctl.region)
    try:
        desc = sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        raise CommandError(f"no run {name} in {ctl.region}: {exc}") from exc
    plan = str(run_input(desc, name).get("plan") or ctl.plan_name)
    item = ctl.ledger.get(plan, f"APPROVAL#{name}")
    if desc["status"] != "RUNNING" or item is None:
        raise CommandError(f"run {name} is {desc['status']} and is not waiting for approval")
    return plan, name, str(item["task_token"])


def approve(args: argparse.Namespace, out: IO[str]) -> int:
    ctl = controller(args)
    _, name, token = _approval(ctl, args.run)
    who = args.by or _who()
    ctl.factory.client("stepfunctions", ctl.region).send_task_success(
        taskToken=token, output=json.dumps({"approved_by": who, "approved_at": datetime.now(UTC).isoformat()})
    )
    out.write(f"approved {name} as {who}\n")
    return 0


def reject(args: argparse.Namespace, out: IO[str]) -> int:
    ctl = controller(args)
    _, name, token = _approval(ctl, args.run)
    ctl.factory.client("stepfunctions", ctl.region).send_task_failure(
        taskToken=token, error="ApprovalRejected", cause=f"rejected by {args.by or _who()}: {args.reason or ''}"
    )
    out.write(f"rejected {name}\n")
    return 0


def _seconds(value: Any, missing: str = "-") -> str:
    return missing if value is None else f"{float(value):.1f}"


def status(args: argparse.Namespace, out: IO[str]) -> int:
    """Recent runs of the plan from the ledger of --region's controller: outcome, time to traffic and to full
    capacity against the RTO, RPO exposure."""
    ctl = controller(args)
    runs = ctl.ledger.runs(args.plan or ctl.plan_name, limit=args.limit)
    if args.json:
        out.write(json.dumps(runs, indent=2, default=str) + "\n")
        return 0
    rows = [
        ["STARTED", "RUN", "OUTCOME", "MODE", "TO", "TO TRAFFIC s", "TO FULL s", "RTO s", "RPO ms (target)", "TRAFFIC"]
    ]
    for r in runs:
        rpo = "-" if r.get("rpo_exposure_ms") is None else f"{r['rpo_exposure_ms']:.0f} ({r.get('rpo_target_ms')})"
        rows.append(
            [
                r.get("started_at", ""),
                r.get("execution", ""),
                r.get("outcome", ""),
                f"{r.get('mode', '')}{' dry' if r.get('dry_run') else ''}",
                r.get("target_region", ""),
                _seconds(r.get("traffic_s")),
                _seconds(r.get("full_capacity_s"), "not full" if r.get("outcome") == "reduced_capacity" else "-"),
                str(r.get("rto_target_s") or "-"),
                rpo,
                r.get("traffic_region") or "-",
            ]
        )
    if len(rows) == 1:
        out.write(f"no runs of {args.plan or ctl.plan_name} in the ledger of {ctl.region}\n")
    else:
        _table(rows, out)
    _traffic_now(ctl.plan(args.plan), out)
    return 0


def sam_env(args: argparse.Namespace, out: IO[str]) -> int:
    """`failoverctl sam-env`: the deployed functions' environment, by logical id, as `sam local invoke --env-vars`
    reads it. Locally, the template's ``!Ref`` values resolve to logical ids (``LEDGER_TABLE`` to ``LedgerTable``);
    this file gives them the names the stack created."""
    ctl = controller(args)
    lam = ctl.factory.client("lambda", ctl.region)
    env: dict[str, dict[str, str]] = {}
    for r in sorted(stack_resources(ctl.factory, ctl.region, ctl.stack), key=lambda r: r["LogicalResourceId"]):
        if r["ResourceType"] == "AWS::Lambda::Function":
            config = lam.get_function_configuration(FunctionName=r["PhysicalResourceId"])
            env[r["LogicalResourceId"]] = dict(config.get("Environment", {}).get("Variables", {}))
    if not env:
        raise CommandError(f"stack {ctl.stack} in {ctl.region} has no functions")
    endpoint = args.container_endpoint or (_kept_state().get("containers", "") if args.local else "")
    for variables in env.values():
        if variables.get("AWS_ENDPOINT_URL") and endpoint:  # empty on AWS: boto3 uses AWS's endpoints
            variables["AWS_ENDPOINT_URL"] = endpoint
    text = json.dumps(env, indent=2, sort_keys=True) + "\n"
    if args.out:
        inputs.write_text(args.out, text)
        out.write(f"{args.out}: the environment of {len(env)} functions of {ctl.stack} in {ctl.region}\n")
    else:
        out.write(text)
    loopback = sorted({v["AWS_ENDPOINT_URL"] for v in env.values() if "://127.0.0.1:" in v.get("AWS_ENDPOINT_URL", "")})
    if loopback:  # not into the JSON on stdout
        (out if args.out else sys.stderr).write(
            f"note: AWS_ENDPOINT_URL is {', '.join(loopback)}, the host's loopback, which a container does not "
            "reach: keep the drill with --for-containers, or pass --container-endpoint\n"
        )
    return 0


def kept_name_server() -> list[str]:
    """The Route 53 DNS of the kept drill, as its plans name their zone's name servers."""
    state = _kept_state()
    if not state.get("dns"):
        raise CommandError("no local emulators are running: start them with `failoverctl drill --keep`")
    return [state.get("containers_dns") or state["dns"]]


def _kept_state() -> dict[str, Any]:
    """What `failoverctl drill --keep` left running ({} when nothing is)."""
    if not LOCAL_STATE_FILE.exists():
        return {}
    try:
        state = json.loads(LOCAL_STATE_FILE.read_text(encoding="utf-8")[:100_000])
    except (OSError, ValueError) as exc:
        state = exc
    if not isinstance(state, dict):
        raise InputInvalid(
            f"the kept drill's state file {LOCAL_STATE_FILE}",
            ["is not the JSON object a `failoverctl drill --keep` writes: run `failoverctl drill --stop`"],
        )
    return state


def _traffic_now(plan: RecoveryPlan, out: IO[str]) -> None:
    """Where traffic goes now, asked of the zone's name servers (real DNS queries), when the plan names them."""
    if not plan.name_servers or not all(r.values for r in plan.records):
        return
    try:
        seen = dns.served_from(plan)
    except FailoverError as exc:
        out.write(f"traffic now: DNS did not answer ({exc.message})\n")
        return
    for name, answer in seen.items():
        answers = ", ".join(answer["answers"]) or "nothing"
        out.write(f"traffic now: {name} answers {answers} ({answer['region'] or 'no region of the plan'})\n")


def push(args: argparse.Namespace, out: IO[str]) -> int:
    """Store a plan file where the stack of --region reads it (before a deploy; again after every edit)."""
    plan = load_plan_file(args.file)
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise CommandError("no region: pass --region")
    plan.require_region(region)
    stored = push_plan(plan, prefix=args.prefix, region=region, factory=factory_for(args))
    out.write(f"{stored['name']} in {stored['region']}: {stored['bytes']} bytes ({stored['tier']} tier)\n")
    return 0


def check_account(args: argparse.Namespace, out: IO[str]) -> int:
    """`failoverctl plan check-account`: can the account in --region take the stack's reserved concurrency?"""
    plan = load_plan_file(args.file)
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise CommandError("no region: pass --region")
    try:
        seen = account_concurrency(plan, region, factory_for(args), args.stack)
    except (ClientError, BotoCoreError) as exc:
        raise CommandError(f"cannot read Lambda's account settings in {region}: {exc}") from exc
    steps, detect = plan.reserved_concurrency
    out.write(
        f"{region}: quota {seen['limit']} concurrent executions, {seen['free']} free to reserve "
        f"({seen['unreserved']} unreserved + {seen['held_now']} the stack holds now); the stack reserves "
        f"{stack_reservation(plan)} (11 functions x {steps} + Detect {detect}), {seen['left']} would stay unreserved\n"
    )
    if seen["problem"]:
        raise CommandError(f"{region}: {seen['problem']}")
    return 0


def add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", type=inputs.region, help="the controller's region (default: AWS_REGION)")
    parser.add_argument(
        "--stack",
        type=inputs.stack_name,
        default=DEFAULT_STACK,
        help="the controller's stack name (default: %(default)s)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="the emulators a `failoverctl drill --keep` left running")
    where.add_argument("--endpoint-url", help="send every AWS call to this endpoint (an emulator)")
    parser.add_argument("--sagemaker-endpoint-url", help="with --endpoint-url: SageMaker's endpoint")


def run_command(func: Any, args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Run an operator command with its target environment; map failures onto exit codes."""
    try:
        code: int = func(args, out)
    except InputInvalid as exc:
        err.write(f"invalid: {exc.message}\n")
        return 2
    except inputs.OutputError as exc:
        err.write(f"invalid: {exc}\n")
        return 2
    except (CommandError, FailoverError, FollowError) as exc:
        err.write(f"error: {exc}\n")
        return 3
    except (ClientError, BotoCoreError) as exc:  # AWS refused or could not be reached: one line, not a traceback
        err.write(f"error: {exc}\n")
        return 3
    return code
