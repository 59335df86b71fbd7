"""The SAM CLI against the emulators: `sam build` of the real template, the plan pushed, `sam deploy`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from botocore.exceptions import ClientError

from failover_controller.clients import ClientFactory
from failover_controller.plan import RecoveryPlan
from failover_controller.plan_store import push_plan
from failoverctl.drill import world
from failoverctl.drill.emulators import Emulators
from failoverctl.drill.scenarios import DrillError
from failoverctl.paths import DEFAULT_STACK, ROOT
from failoverctl.stack import account_concurrency, stack_parameters, stack_resources

EVENT_SOURCE = "failoverctl.drill"
ACCOUNT = "000000000000"  # ministack's account


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


TEMPLATE = ROOT / "template.yaml"


def built_template(template: Path, workdir: Path) -> Path:
    """Where `sam build` puts ``template``: the project's .aws-sam for template.yaml, the drill's workdir for a copy."""
    build_dir = ROOT / ".aws-sam" / "build" if template.resolve() == TEMPLATE else workdir / "sam-build"
    return build_dir / "template.yaml"


# What a template's relative paths (CodeUri, ContentUri, DefinitionUri) name, in the project.
SOURCE_DIRS = ("functions", "layers", "statemachines")


def build(log: Path, template: Path = TEMPLATE, workdir: Path = ROOT) -> None:
    """`sam build` of ``template``. A copy is built in the drill's workdir, beside links to the project's sources, so
    that its relative paths name the project's functions, layer and state machine wherever the copy lies."""
    env = {**os.environ, "PATH": f"{python313_dir()}{os.pathsep}{os.environ.get('PATH', '')}"}
    args = [sam_binary(), "build", "--region", "us-west-2"]
    if template.resolve() != TEMPLATE:
        stage = workdir / "template"
        stage.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, stage / "template.yaml")
        for name in SOURCE_DIRS:
            if not (stage / name).exists():
                (stage / name).symlink_to(ROOT / name, target_is_directory=True)
        out = built_template(template, workdir).parent
        args += ["--template-file", str(stage / "template.yaml"), "--build-dir", str(out)]
    _run_tool(args, log, "sam build", env)


def deploy(
    plan: RecoveryPlan,
    region: str,
    pair: Emulators,
    log: Path,
    f: ClientFactory,
    *,
    template: Path = TEMPLATE,
) -> dict[str, str]:
    """As `make deploy`: the plan pushed to ``region``, then `sam deploy` of the built template there; returns the
    stack's outputs. The functions' declared ``AWS_ENDPOINT_URL`` is the outage proxy, as the emulator's own."""
    push_plan(plan, prefix=world.PLAN_PREFIX, region=region, factory=f)
    account = account_concurrency(plan, region, f, DEFAULT_STACK)
    if account["problem"]:
        raise DrillError(f"failoverctl plan check-account refuses the deploy to {region}: {account['problem']}")
    params = pair.workdir / f"params-{region}.yaml"
    values = stack_parameters(plan, region, ACCOUNT, alarm_event_source=EVENT_SOURCE, endpoint_url=pair.proxy_url)
    params.write_text(json.dumps(values))
    _run_tool(
        [
            sam_binary(),
            "deploy",
            "--template-file",
            str(built_template(template, pair.workdir)),
            "--region",
            region,
            "--stack-name",
            DEFAULT_STACK,
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
    reserve_concurrency(plan, region, f)
    stack = f.client("cloudformation", region).describe_stacks(StackName=DEFAULT_STACK)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def reserve_concurrency(plan: RecoveryPlan, region: str, f: ClientFactory) -> None:
    """What CloudFormation does on AWS with each function's ``ReservedConcurrentExecutions`` and the emulator's
    CloudFormation skips: ``PutFunctionConcurrency``, which the drill's world refuses beyond the account's quota."""
    steps, detect = plan.reserved_concurrency
    lam = f.client("lambda", region)
    for r in stack_resources(f, region, DEFAULT_STACK):
        if r["ResourceType"] != "AWS::Lambda::Function":
            continue
        wanted = detect if r["LogicalResourceId"] == "DetectFunction" else steps
        if wanted:
            try:
                lam.put_function_concurrency(FunctionName=r["PhysicalResourceId"], ReservedConcurrentExecutions=wanted)
            except ClientError as exc:
                raise DrillError(f"sam deploy to {region}: {r['LogicalResourceId']}: {exc}") from exc
