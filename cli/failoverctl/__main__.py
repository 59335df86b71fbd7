"""failoverctl: the operators' command line of failover-controller.

  plan validate FILE          every problem of a plan, named
  plan params FILE --region   the stack parameters of a plan
  plan push FILE --region     store a plan where the stack of --region reads it (before each deploy)
  plan discover --application NAME --primary R1 --standby R2 [--out FILE] [--check PLAN]
                              the plan the account shows (resources tagged failover:application=NAME)
  plan check-account FILE --region
                              can the account take the stack's reserved concurrency? (before each deploy)
  readiness PLAN              would a failover into --region work now?
  failover PLAN --to REGION   start the runbook there and follow it live
  approve RUN / reject RUN    answer a run's approval gate
  status                      recent runs: outcome, time to traffic and to full capacity, RPO exposure
  report RUN                  a run's picture: HTML timeline, critical path, RTO/RPO, verifications
  sam-env                     the deployed functions' environment, for `sam local invoke --env-vars`
  drill                       a whole failover on the local emulators

Against AWS with the normal credential chain and --region, or the local emulators with --local.
Exit codes: 0 done (ready, succeeded, nothing to do), 1 not ready or the run failed, 2 invalid input, 3 could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from failover_controller.errors import PlanInvalid
from failover_controller.names import APPLICATION_TAG, DEFAULT_PLAN_PREFIX
from failover_controller.plan import load_plan_file
from failoverctl import discover, inputs, operate
from failoverctl import dns as dns_setup
from failoverctl import report as run_report
from failoverctl.follow import FollowError
from failoverctl.paths import ROOT
from failoverctl.stack import stack_parameters

try:  # the drill's own dependencies (emulators, outage proxy) come with the [drill] extra; nothing else needs them
    from failoverctl import drill
except ImportError as missing:
    drill = None  # type: ignore[assignment]
    DRILL_MISSING: str | None = missing.name or str(missing)
else:
    DRILL_MISSING = None

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_DRILL_BROKEN = 0, 1, 2, 3


def _plan_validate(args: argparse.Namespace) -> int:
    try:
        plan = load_plan_file(args.file)
    except PlanInvalid as exc:
        print(f"{args.file}: invalid plan, {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{args.file}: valid plan for {plan.application} ({plan.primary_region} -> {plan.standby_region})")
    return EXIT_OK


def _plan_params(args: argparse.Namespace) -> int:
    try:
        plan = load_plan_file(args.file)
        plan.require_region(args.region)
        account = args.account or caller_account(args.region)
        params = stack_parameters(plan, args.region, account, alarm_event_source=args.alarm_event_source)
        text = json.dumps(params, indent=2)
        if args.output:
            inputs.write_text(args.output, text + "\n")
        else:
            print(text)
    except (PlanInvalid, inputs.OutputError) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except (ClientError, BotoCoreError) as exc:
        print(f"cannot read the account from STS in {args.region} (pass --account): {exc}", file=sys.stderr)
        return EXIT_DRILL_BROKEN
    return EXIT_OK


def drill_unavailable() -> str | None:
    """Why `failoverctl drill` cannot run here, and what to install, or None."""
    if not (ROOT / "template.yaml").is_file():
        return (
            "failoverctl drill runs from a clone of the repository (it builds and deploys its template.yaml): "
            "in the clone, `make drill`, or `pip install -e '.[drill]'` and `failoverctl drill`"
        )
    if DRILL_MISSING:
        return (
            f"failoverctl drill needs the drill's dependencies ({DRILL_MISSING} is not installed): in the clone, "
            "`pip install -e '.[drill]'` (and `make emulator` for ministack), or `make drill`"
        )
    return None


def _drill(args: argparse.Namespace) -> int:
    if args.stop:
        print(drill.stop_kept())
        return EXIT_OK
    try:  # before anything starts: a plan file that is not a plan (or /dev/zero) stops here
        load_plan_file(args.plan)
    except PlanInvalid as exc:
        print(f"drill: {exc}", file=sys.stderr)
        return EXIT_INVALID
    options = drill.Options(
        scenario=args.scenario,
        failback=args.failback,
        report=Path(args.report),
        keep=args.keep,
        plan_file=Path(args.plan),
        time_scale=args.time_scale,
        template=Path(args.template),
        setup_only=args.setup_only,
        for_containers=args.for_containers,
        burst=args.burst,
        account_concurrency=args.account_concurrency,
    )
    try:
        report = drill.run(options)
    except (drill.DrillError, FollowError) as exc:
        print(f"drill could not run: {exc}", file=sys.stderr)
        return EXIT_DRILL_BROKEN
    return EXIT_OK if report.get("passed") else EXIT_FAILED


def _operate(command: Callable[[argparse.Namespace, IO[str]], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return operate.run_command(command, args, sys.stdout, sys.stderr)

    run.operation = command  # type: ignore[attr-defined]  # tests call it with their own streams
    return run


def caller_account(region: str) -> str:
    return str(boto3.client("sts", region_name=region).get_caller_identity()["Account"])


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="failoverctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = top.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="recovery plans").add_subparsers(dest="plan_command", required=True)
    validate = plan.add_parser("validate", help="validate a plan file; every problem is named")
    validate.add_argument("file")
    validate.set_defaults(func=_plan_validate)
    params = plan.add_parser("params", help="the stack parameters of a plan for one region (JSON)")
    params.add_argument("file")
    params.add_argument(
        "--region", required=True, type=inputs.region, help="the region of the stack (one of the plan's two)"
    )
    params.add_argument("--account", help="the AWS account id (default: the caller's, from STS)")
    params.add_argument("--alarm-event-source", default="aws.cloudwatch")
    params.add_argument("--output", "-o", help="write to this file instead of standard output")
    params.set_defaults(func=_plan_params)
    push = plan.add_parser("push", help="store a plan where the stack of --region reads it (SSM; 8 KB at most)")
    push.add_argument("file")
    push.add_argument(
        "--prefix",
        type=inputs.plan_prefix,
        default=DEFAULT_PLAN_PREFIX,
        help="the stack's PlanParameterPrefix (default: %(default)s)",
    )
    operate.add_target_options(push)
    push.set_defaults(func=_operate(operate.push))
    account = plan.add_parser(
        "check-account",
        help="can the account in --region take the stack's reserved concurrency? (Lambda keeps 100 unreserved)",
    )
    account.add_argument("file")
    operate.add_target_options(account)
    account.set_defaults(func=_operate(operate.check_account))
    _add_discover_command(plan)
    _add_drill_command(sub)
    _add_operator_commands(sub)
    _add_dns_command(sub)
    return top


def _add_discover_command(plan: Any) -> None:
    found = plan.add_parser(
        "discover",
        help="the plan the account shows: the application's resources, found by their tag "
        f"{APPLICATION_TAG}=NAME (read-only); --check PLAN: the drift between the account and PLAN",
        description="Read-only (Describe, List and Get calls). Every field it had to guess or leave out, and every "
        "default, is listed for review. Exit 0: a valid plan written (or no drift); 1: a part of the plan not found "
        "(nothing written), or drift.",
    )
    found.add_argument("--application", type=discover.application_name, help="the application's name (its tag's value)")
    found.add_argument("--primary", type=inputs.region, help="the region that serves now")
    found.add_argument("--standby", type=inputs.region, help="the warm standby's region")
    found.add_argument(
        "--tag",
        type=discover.tag_filter,
        action="append",
        metavar="KEY=VALUE",
        help="another tag the application's resources carry (repeatable)",
    )
    found.add_argument("--out", "-o", help="write the plan here (default: standard output, the notes on stderr)")
    found.add_argument(
        "--check",
        metavar="PLAN",
        help="compare the account with PLAN, a plan file or (with --region) the plan of that name stored there: "
        "exit 1 on drift (writes nothing)",
    )
    found.add_argument(
        "--prefix", type=inputs.plan_prefix, default=DEFAULT_PLAN_PREFIX, help="where stored plans are (--check NAME)"
    )
    operate.add_target_options(found)
    found.set_defaults(func=_operate(discover.command))


def _add_dns_command(sub: Any) -> None:
    dns = sub.add_parser("dns", help="data-plane DNS").add_subparsers(dest="dns_command", required=True)
    setup = dns.add_parser(
        "setup",
        help="the one-time setup of data-plane DNS: each region's claim health check, and the plan's records "
        "carrying the other region's (prints what it would do; --apply does it)",
    )
    setup.add_argument("plan", help="the plan file (route53.mode data_plane)")
    setup.add_argument("--apply", action="store_true", help="create the health checks and change the records")
    setup.add_argument("--json", action="store_true", help="the health checks and the change batch as JSON")
    operate.add_target_options(setup)
    setup.set_defaults(func=_operate(dns_setup.command))
    release = dns.add_parser(
        "release",
        help="withdraw --region's traffic claim (refused when DNS would then leave the Aurora writer's region)",
    )
    release.add_argument("plan", help="the plan file")
    release.add_argument(
        "--force", action="store_true", help="withdraw even when DNS would then send users to a read-only database"
    )
    operate.add_target_options(release)
    release.set_defaults(func=_operate(dns_setup.release))


def _add_drill_command(sub: Any) -> None:
    if drill_unavailable():
        sub.add_parser("drill", help="a whole failover on the local emulators (from a clone, with the [drill] extra)")
        return
    run = sub.add_parser(
        "drill",
        help="a whole failover of the sample application on the local emulators (no AWS account, no docker)",
        description="Starts ministack and moto_server on 127.0.0.1, deploys template.yaml into the standby region, "
        "creates the application, fires the plan's alarms, follows the run Detect starts, verifies the world and "
        "writes a JSON report. Exit 0 only when the outcome is the scenario's and the world verified.",
    )
    run.add_argument(
        "--scenario",
        choices=sorted(drill.SCENARIOS),
        default="graceful",
        help=", ".join(sorted(drill.SCENARIOS)) + " (default: graceful)",
    )
    run.add_argument("--failback", action="store_true", help="then fail back from the primary region and verify")
    run.add_argument("--report", default="drill-report.json", help="where to write the JSON report")
    run.add_argument(
        "--plan",
        default=str(ROOT / "plans" / "recsys.json"),
        help="the plan whose application is built and failed over (default: the sample, plans/recsys.json)",
    )
    run.add_argument("--keep", action="store_true", help="leave the emulators running and print their endpoints")
    run.add_argument("--stop", action="store_true", help="stop the emulators a --keep drill left running")
    run.add_argument(
        "--for-containers",
        action="store_true",
        help="also relay the outage proxy to the Docker bridge's address (docker0), where the containers of "
        "`sam local invoke` reach it (docs/deploy.md)",
    )
    run.add_argument(
        "--setup-only",
        action="store_true",
        help="build the world, deploy the controller and start the scenario's outage, then stop before the alarms "
        "(with --keep: a world to run `sam local invoke` or the operator commands against)",
    )
    run.add_argument(
        "--template",
        default=str(ROOT / "template.yaml"),
        help="the SAM template to build and deploy (default: the project's template.yaml; a changed copy drills a "
        "changed controller, its CodeUris read from the project's root)",
    )
    _add_drill_world_options(run)
    run.set_defaults(func=_drill)


def _add_drill_world_options(run: argparse.ArgumentParser) -> None:
    """How the drill's world behaves: its time, its outages' bursts, its account."""
    run.add_argument(
        "--time-scale",
        type=inputs.time_scale,
        default=drill.DEFAULT_TIME_SCALE,
        help="AWS's durations (benchmarks/dependency_timings.json) and the runbook's waits are divided by this "
        f"(default {drill.DEFAULT_TIME_SCALE:g}: a 2-minute switchover takes 1 s); 0: every change is instant",
    )
    run.add_argument(
        "--burst",
        type=inputs.positive_int,
        help="a brown-out's failures come in runs of this many consecutive calls (default: the scenario's; "
        "brownout: 6, one more than the SDK's attempts)",
    )
    run.add_argument(
        "--account-concurrency",
        type=inputs.positive_int,
        default=1000,
        help="the emulated account's Lambda concurrency quota (default 1000, AWS's default; a new account may have "
        "10): the deploy fails, naming it, when the stack's reservations would leave fewer than 100 unreserved",
    )


def _add_operator_commands(sub: Any) -> None:
    check = sub.add_parser("readiness", help="would a failover of PLAN into --region work now? (the checks as a table)")
    check.add_argument("plan")
    check.add_argument("--json", action="store_true", help="the full report as JSON")
    operate.add_target_options(check)
    check.set_defaults(func=_operate(operate.readiness))

    start = sub.add_parser("failover", help="start the runbook into --to REGION and follow it live")
    start.add_argument("plan")
    start.add_argument(
        "--to", required=True, type=inputs.region, help="the region to fail over into (its controller runs the runbook)"
    )
    start.add_argument("--mode", choices=["graceful", "ungraceful"], default="graceful")
    start.add_argument("--dry-run", action="store_true", help="every step reports what it would do; nothing changes")
    start.add_argument(
        "--approve",
        "--require-approval",
        dest="require_approval",
        action="store_true",
        help="wait for `failoverctl approve RUN` (or reject) before the first change",
    )
    start.add_argument("--force-beyond-rpo", action="store_true", help="ungraceful: accept losing more than the RPO")
    start.add_argument("--reason", help="recorded in the ledger and the notifications")
    start.add_argument("--name", help="the execution name (default: PLAN-manual-<UTC time>)")
    start.add_argument("--poll-seconds", type=inputs.positive_int, help="wait between status polls (default 15)")
    start.add_argument("--no-follow", action="store_true", help="start it and print its ARN")
    start.add_argument(
        "--timeout", type=inputs.positive_seconds, default=3600.0, help="stop following after this many seconds"
    )
    operate.add_target_options(start)
    start.set_defaults(func=_operate(operate.failover), region=None)

    for verb, helptext in (
        ("approve", "approve a run waiting at its approval gate"),
        ("reject", "reject a run waiting at its approval gate (nothing changes)"),
    ):
        gate = sub.add_parser(verb, help=helptext)
        gate.add_argument("run", type=inputs.run_id, help="the execution name or ARN")
        gate.add_argument("--by", help="who decides (default: your user name)")
        if verb == "reject":
            gate.add_argument("--reason")
        operate.add_target_options(gate)
        gate.set_defaults(func=_operate(operate.approve if verb == "approve" else operate.reject))
    _add_record_commands(sub)


def _add_record_commands(sub: Any) -> None:
    """What the deployed controller holds: its functions' environment, a run's picture, the recent runs."""
    env = sub.add_parser(
        "sam-env", help="the deployed functions' environment, as `sam local invoke --env-vars FILE` reads it"
    )
    env.add_argument("--out", help="write it to this file (default: print it)")
    env.add_argument(
        "--container-endpoint",
        help="URL: the functions' AWS_ENDPOINT_URL, where it is set, becomes URL (where a container reaches the "
        "emulators; with --local, default: the relay of a drill kept with --for-containers)",
    )
    operate.add_target_options(env)
    env.set_defaults(func=_operate(operate.sam_env))

    page = sub.add_parser("report", help="a run's picture: an HTML page from its execution history and ledger entry")
    page.add_argument("run", type=inputs.run_id, help="the execution name or ARN")
    page.add_argument("--out", help="where to write it (default: RUN.html)")
    operate.add_target_options(page)
    page.set_defaults(func=_operate(run_report.command))

    runs = sub.add_parser("status", help="recent runs: outcome, times to traffic and to full capacity, RPO")
    runs.add_argument("--plan", help="the plan (default: the stack's)")
    runs.add_argument("--limit", type=inputs.positive_int, default=10)
    runs.add_argument("--json", action="store_true")
    operate.add_target_options(runs)
    runs.set_defaults(func=_operate(operate.status))


def main(argv: Sequence[str] | None = None) -> int:
    """Everything printed, argparse's refusals too, is shown with its control characters escaped."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = inputs.EscapingStream(out), inputs.EscapingStream(err)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["drill"] and drill_unavailable():  # whatever its options: they are the drill's
            print(drill_unavailable(), file=sys.stderr)
            return EXIT_DRILL_BROKEN
        args = parser().parse_args(argv)
        code: int = args.func(args)
    finally:
        sys.stdout, sys.stderr = out, err
    return code


if __name__ == "__main__":
    sys.exit(main())
