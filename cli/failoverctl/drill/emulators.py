"""Start and stop the local emulators: ministack (most services) and moto's server (SageMaker).

Both bind 127.0.0.1 on a free port and keep their state in a private directory. ministack runs Lambda
functions as local subprocesses that inherit its environment: it is started with AWS_ENDPOINT_URL_SAGEMAKER
pointing at moto, so the functions' SageMaker calls reach moto with no change in the code.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from failoverctl.paths import ROOT

DEFAULT_MINISTACK = ROOT / ".venv-ministack" / "bin" / "ministack"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}; log:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback URL we built
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s; log:\n{log.read_text(errors='replace')[-3000:]}")


def stop_pids(pids: list[int]) -> None:
    """Stop emulators started by another process (``failoverctl drill --keep``, then ``--stop``)."""
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 10
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def _post(url: str) -> None:
    req = urllib.request.Request(url, method="POST", data=b"")  # noqa: S310 - loopback URL we built
    with urllib.request.urlopen(req, timeout=30):  # noqa: S310
        pass


def moto_served(moto_url: str) -> dict[str, str]:
    """What ministack does not serve: SageMaker, and Application Auto Scaling (a SageMaker variant's scaling)."""
    return {"AWS_ENDPOINT_URL_SAGEMAKER": moto_url, "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING": moto_url}


@dataclass
class Emulators:
    ministack_url: str
    moto_url: str
    workdir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)

    def endpoint_env(self) -> dict[str, str]:
        """boto3's per-service endpoint settings that route every client to the right emulator."""
        return {"AWS_ENDPOINT_URL": self.ministack_url, **moto_served(self.moto_url)}

    def reset(self) -> None:
        _post(f"{self.ministack_url}/_ministack/reset")
        _post(f"{self.moto_url}/moto-api/reset")

    def stop(self) -> None:
        if not self.procs:
            stop_pids(self.pids)
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def ministack_binary(ministack_bin: str | None = None) -> Path:
    binary = Path(ministack_bin or os.environ.get("MINISTACK_BIN") or DEFAULT_MINISTACK)
    if not binary.exists():
        raise RuntimeError(f"ministack not found at {binary}: run `make emulator` (or set MINISTACK_BIN)")
    return binary


def start(ministack_bin: str | None = None, *, detach: bool = False) -> Emulators:
    """Start moto_server, then ministack. ``detach`` starts them in their own session (for --keep)."""
    binary = ministack_binary(ministack_bin)
    workdir = Path(tempfile.mkdtemp(prefix="failover-emulators-"))
    ms_port, moto_port = free_port(), free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    emulators = Emulators(f"http://127.0.0.1:{ms_port}", f"http://127.0.0.1:{moto_port}", workdir)
    ms_env = base_env | {
        "BIND_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(ms_port),
        "STATE_DIR": str(workdir / "ministack-state"),
        "S3_DATA_DIR": str(workdir / "ministack-s3"),
        "PERSIST_STATE": "0",
        "SFN_WAIT_SCALE": "0",
        "TMPDIR": str(workdir),
        "LOG_LEVEL": "WARNING",
        **moto_served(emulators.moto_url),
        "AWS_ACCESS_KEY_ID": base_env.get("AWS_ACCESS_KEY_ID", "test"),
        "AWS_SECRET_ACCESS_KEY": base_env.get("AWS_SECRET_ACCESS_KEY", "test"),
    }
    ms_log, moto_log = workdir / "ministack.log", workdir / "moto.log"
    try:
        with moto_log.open("wb") as out:
            emulators.procs.append(
                subprocess.Popen(  # noqa: S603
                    [sys.executable, "-m", "failoverctl.drill.moto_as_aws", "-H", "127.0.0.1", "-p", str(moto_port)],
                    env=base_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    start_new_session=detach,
                )
            )
        with ms_log.open("wb") as out:
            emulators.procs.append(
                subprocess.Popen(  # noqa: S603
                    [str(binary)],
                    env=ms_env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    start_new_session=detach,
                )
            )
        _wait_http(f"{emulators.moto_url}/moto-api/", emulators.procs[0], moto_log)
        _wait_http(f"{emulators.ministack_url}/_ministack/health", emulators.procs[1], ms_log)
    except BaseException:
        emulators.stop()
        raise
    emulators.pids = [p.pid for p in emulators.procs]
    return emulators
