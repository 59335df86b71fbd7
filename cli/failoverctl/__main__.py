"""failoverctl: validate plans and derive their stack parameters (more sub-commands come with the drill)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import boto3

from failover_controller.errors import PlanInvalid
from failover_controller.plan import load_plan_file
from failoverctl import drill
from failoverctl.stack import stack_parameters

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
        account = args.account or caller_account(args.region)
        params = stack_parameters(plan, args.region, account, alarm_event_source=args.alarm_event_source)
    except PlanInvalid as exc:
        print(f"{args.file}: {exc.message}", file=sys.stderr)
        return EXIT_INVALID
    text = json.dumps(params, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return EXIT_OK


def _drill(args: argparse.Namespace) -> int:
    if args.stop:
        print(drill.stop_kept())
        return EXIT_OK
    options = drill.Options(scenario=args.scenario, failback=args.failback, report=Path(args.report), keep=args.keep)
    try:
        report = drill.run(options)
    except drill.DrillError as exc:
        print(f"drill could not run: {exc}", file=sys.stderr)
        return EXIT_DRILL_BROKEN
    return EXIT_OK if report.get("passed") else EXIT_FAILED


def caller_account(region: str) -> str:
    return str(boto3.client("sts", region_name=region).get_caller_identity()["Account"])


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="failoverctl", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="recovery plans").add_subparsers(dest="plan_command", required=True)
    validate = plan.add_parser("validate", help="validate a plan file; every problem is named")
    validate.add_argument("file")
    validate.set_defaults(func=_plan_validate)
    params = plan.add_parser("params", help="the stack parameters of a plan for one region (JSON)")
    params.add_argument("file")
    params.add_argument("--region", required=True, help="the region of the stack (one of the plan's two)")
    params.add_argument("--account", help="the AWS account id (default: the caller's, from STS)")
    params.add_argument("--alarm-event-source", default="aws.cloudwatch")
    params.add_argument("--output", "-o", help="write to this file instead of standard output")
    params.set_defaults(func=_plan_params)

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
        help="graceful (default), ungraceful, not-ready or step-failure",
    )
    run.add_argument("--failback", action="store_true", help="then fail back from the primary region and verify")
    run.add_argument("--report", default="drill-report.json", help="where to write the JSON report")
    run.add_argument("--keep", action="store_true", help="leave the emulators running and print their endpoints")
    run.add_argument("--stop", action="store_true", help="stop the emulators a --keep drill left running")
    run.set_defaults(func=_drill)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
