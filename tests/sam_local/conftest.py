"""`make test-sam-local`: a Docker engine, the stand-in base image, and a kept drill world that the containers reach.

Everything here is what README's "Single functions" tells a person to do, done by the same commands:
`failoverctl drill --setup-only --keep --for-containers`, `failoverctl sam-env --local`, `sam local invoke`, and
`failoverctl drill --stop` at the end, with the engine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from failoverctl.drill import emulators
from failoverctl.paths import LOCAL_STATE_FILE, ROOT
from tests.sam_local import engine as docker

REGION = "us-west-2"  # the sample plan's standby, where the controller is deployed


def _clean_env(**extra: str) -> dict[str, str]:
    """This machine's environment without its AWS settings: the emulators' test credentials, no profile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    return (
        env
        | {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "SAM_CLI_TELEMETRY": "0",
        }
        | extra
    )


def failoverctl(*argv: str, timeout: float = 900) -> str:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "failoverctl", *argv],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"failoverctl {' '.join(argv)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.Engine]:
    """The engine, and a SIGTERM that ends the session like Ctrl-C: the teardowns stop dockerd and the kept drill,
    which run in sessions of their own and would outlive a killed pytest."""
    previous = signal.signal(signal.SIGTERM, _interrupted)
    running = docker.engine()
    try:
        yield running
    finally:
        running.stop()
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def image(engine: docker.Engine) -> str:
    return docker.image(engine)


@dataclass
class World:
    """The kept drill: the world before any alarm, the controller deployed in REGION, and how to reach both."""

    report: dict[str, Any]
    pair: emulators.Emulators  # the kept emulators, as the state file names them
    env_file: Path


@pytest.fixture(scope="session")
def world(engine: docker.Engine, image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Set up after the image is built: the world's clock starts when the functions can run."""
    if LOCAL_STATE_FILE.exists():
        pytest.fail(f"a kept drill is running ({LOCAL_STATE_FILE}): stop it with `failoverctl drill --stop` first")
    tmp = tmp_path_factory.mktemp("sam-local")
    report_file = tmp / "setup.json"
    try:
        failoverctl("drill", "--setup-only", "--keep", "--for-containers", "--report", str(report_file))
        state = json.loads(LOCAL_STATE_FILE.read_text())
        pair = emulators.Emulators(
            state["ministack"], state["moto"], Path(state["workdir"]), state["proxy"], container_url=state["containers"]
        )
        env_file = tmp / "env.json"
        failoverctl("sam-env", "--local", "--region", REGION, "--out", str(env_file))
        yield World(json.loads(report_file.read_text()), pair, env_file)
    finally:
        failoverctl("drill", "--stop")


@pytest.fixture(scope="session")
def invoke(engine: docker.Engine, image: str, world: World) -> Any:
    """`sam local invoke FUNCTION -e events/EVENT --env-vars ENV`, in the stand-in image: the function's answer."""

    def run(function: str, event: str | Path) -> Any:
        """``event``: a file of events/, or a path."""
        path = event if isinstance(event, Path) else f"events/{event}"
        args = [str(ROOT / ".venv-sam" / "bin" / "sam"), "local", "invoke", function, "-e", str(path)]
        args += ["--env-vars", str(world.env_file), "--region", REGION, "--skip-pull-image", "--invoke-image", image]
        done = subprocess.run(  # noqa: S603
            args,
            cwd=ROOT,
            env=_clean_env(DOCKER_HOST=engine.host),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"sam local invoke {function}: exit {done.returncode}\n{done.stderr[-4000:]}"
        # The function's answer is the last line SAM writes to stdout; it exits 0 when the handler raised.
        answer = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        assert answer, f"sam local invoke {function} printed no answer\n{done.stderr[-4000:]}"
        return json.loads(answer)

    return run
