"""Start and stop the local emulators: ministack (most services) and moto's server (SageMaker), behind the outage
proxy (``failoverctl.drill.outage``) that every AWS call of the drill goes through.

All three bind 127.0.0.1 on a free port; the emulators keep their state in a private directory. ministack runs
Lambda functions as local subprocesses that inherit its environment: it is started with ``AWS_ENDPOINT_URL`` (and
``AWS_ENDPOINT_URL_SAGEMAKER``, ``..._APPLICATION_AUTO_SCALING``) pointing at the proxy, so the functions' calls go
through it with no change in the code; the proxy sends SageMaker and Application Auto Scaling on to moto.
"""

from __future__ import annotations

import contextlib
import json
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
from typing import Any

import dns.exception
import dns.message
import dns.query

from failoverctl.drill import relay
from failoverctl.paths import ROOT

DEFAULT_MINISTACK = ROOT / ".venv-ministack" / "bin" / "ministack"


def free_udp_port(address: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
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


def _wait_dns(address: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    """Until the name server answers a query (any answer: REFUSED for a zone it does not serve)."""
    host, port = address.split(":")
    query = dns.message.make_query("ready.invalid.", "A")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"Route 53's DNS exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            dns.query.udp(query, host, port=int(port), timeout=0.5)
        except (dns.exception.Timeout, OSError):
            continue
        return
    raise RuntimeError(f"Route 53's DNS did not answer on {address} within {timeout:.0f}s")


def _post(url: str) -> None:
    req = urllib.request.Request(url, method="POST", data=b"")  # noqa: S310 - loopback URL we built
    with urllib.request.urlopen(req, timeout=30):  # noqa: S310
        pass


def moto_served(moto_url: str) -> dict[str, str]:
    """What ministack does not serve: SageMaker, and Application Auto Scaling (a SageMaker variant's scaling)."""
    return {"AWS_ENDPOINT_URL_SAGEMAKER": moto_url, "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING": moto_url}


MOTO_SIGNING_NAMES = ("sagemaker", "application-autoscaling")
# AWS's durations and the state machine's waits are divided by this in a drill: a 2-minute switchover takes 1 s.
# 120 keeps the graceful drill within 1.5 times its wall time before the outage world (docs/drills.md).
DEFAULT_TIME_SCALE = 120.0


@dataclass
class Emulators:
    ministack_url: str
    moto_url: str
    workdir: Path
    proxy_url: str = ""
    time_scale: float = 0.0  # the state machine's waits are divided by it (ministack's SFN_WAIT_SCALE); 0: none
    dns: str = ""  # Route 53's DNS for the emulated zones: "127.0.0.1:PORT" (UDP)
    container_url: str = ""  # the outage proxy, where Docker's containers reach it (open_to_containers)
    container_dns: str = ""  # the zone's name server, where they reach it: "ADDRESS:PORT" (UDP)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)

    @property
    def front(self) -> str:
        """Where AWS calls go: the outage proxy."""
        return self.proxy_url or self.ministack_url

    def endpoint_env(self) -> dict[str, str]:
        """boto3's endpoint settings that send every client through the outage proxy."""
        return {"AWS_ENDPOINT_URL": self.front, **moto_served(self.front)}

    def direct_endpoints(self) -> dict[str, str]:
        """The emulators themselves, past the outage proxy: how the drill observes a world whose region is dark."""
        return {"*": self.ministack_url, **dict.fromkeys(MOTO_SIGNING_NAMES, self.moto_url)}

    def endpoints(self) -> dict[str, str]:
        """The same, as ``ClientFactory(endpoints=...)`` takes them."""
        return {"*": self.front, **dict.fromkeys(MOTO_SIGNING_NAMES, self.front)}

    def open_to_containers(self, interface: str = "docker0", *, detach: bool = False) -> str:
        """Relay the outage proxy and the name server to ``interface``'s address (``failoverctl.drill.relay``),
        where the containers of `sam local invoke` reach them; returns the proxy's URL there. Stopped with the
        emulators."""
        address = relay.interface_address(interface)
        port = free_port(address)
        cmd = [sys.executable, "-m", "failoverctl.drill.relay", "--listen", f"{address}:{port}"]
        cmd += ["--to", self.proxy_url.removeprefix("http://")]
        if self.dns:
            self.container_dns = f"{address}:{free_udp_port(address)}"
            cmd += ["--listen-udp", self.container_dns, "--to-udp", self.dns]
        with (self.workdir / "container-relay.log").open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603
                cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir, start_new_session=detach
            )
        self.procs.append(proc)
        self.pids.append(proc.pid)
        self.container_url = f"http://{address}:{port}"
        _wait_http(f"{self.container_url}/_outage/report", proc, self.workdir / "container-relay.log")
        if self.container_dns:
            _wait_dns(self.container_dns, proc, self.workdir / "container-relay.log")
        return self.container_url

    @property
    def name_server(self) -> str:
        """The zone's name server as the plan names it: where the functions, local or in containers, reach it."""
        return self.container_dns or self.dns

    def reset(self) -> None:
        _post(f"{self.ministack_url}/_ministack/reset")
        _post(f"{self.moto_url}/moto-api/reset")
        if self.proxy_url:
            outage_faults(self.proxy_url, [])
            outage_time(self.proxy_url, 0)
            outage_iam(self.proxy_url, {})

    def outage_report(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.proxy_url}/_outage/report", timeout=30) as response:  # noqa: S310
            report: dict[str, Any] = json.loads(response.read())
        return report

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


def _control(proxy_url: str, verb: str, doc: dict[str, Any]) -> None:
    request = urllib.request.Request(  # noqa: S310 - loopback URL we built
        f"{proxy_url}/_outage/{verb}", data=json.dumps(doc).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass


def outage_faults(proxy_url: str, faults: list[dict[str, Any]], callers: dict[str, str] | None = None) -> None:
    """Start the proxy's timeline with ``faults`` (none: every call passes), counting calls afresh."""
    outage_callers(proxy_url, callers or {})
    _control(proxy_url, "faults", {"faults": faults})


def outage_callers(proxy_url: str, callers: dict[str, str]) -> None:
    """Count the calls of each function (by its deployed name) under the name given."""
    _control(proxy_url, "callers", callers)


def outage_iam(proxy_url: str, functions: dict[str, dict[str, Any]], *, merge: bool = False) -> None:
    """From now on, each of ``functions`` ({name: {"principal", "policies"}}) is allowed only what its policies
    allow (none: IAM is not enforced); ``merge`` keeps the functions already held."""
    _control(proxy_url, "iam", {"functions": functions, "merge": merge})


def outage_account(proxy_url: str, concurrent_executions: int) -> None:
    """The account's Lambda concurrency quota from now on, with no function reserving any."""
    _control(proxy_url, "account", {"concurrent_executions": concurrent_executions})


def outage_time(
    proxy_url: str, scale: float, capacity: dict[str, int] | None = None, aurora_reading: str = "as-before"
) -> None:
    """AWS's slow changes take their time divided by ``scale`` from now on (0: instant); ``capacity``: the instances
    each region named can still provision (a scale-up asking for more rolls back); ``aurora_reading``: what a global
    database's members read while a region is dark (``SlowWorld``)."""
    _control(proxy_url, "time", {"scale": scale, "capacity": capacity or {}, "aurora_reading": aurora_reading})


def ministack_binary(ministack_bin: str | None = None) -> Path:
    binary = Path(ministack_bin or os.environ.get("MINISTACK_BIN") or DEFAULT_MINISTACK)
    if not binary.exists():
        raise RuntimeError(f"ministack not found at {binary}: run `make emulator` (or set MINISTACK_BIN)")
    return binary


def _ministack_env(base_env: dict[str, str], emulators: Emulators, port: int) -> dict[str, str]:
    workdir = emulators.workdir
    return base_env | {
        "BIND_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "STATE_DIR": str(workdir / "ministack-state"),
        "S3_DATA_DIR": str(workdir / "ministack-s3"),
        "PERSIST_STATE": "0",
        "SFN_WAIT_SCALE": str(1 / emulators.time_scale) if emulators.time_scale else "0",
        "TMPDIR": str(workdir),
        "LOG_LEVEL": "WARNING",
        "AWS_ENDPOINT_URL": emulators.proxy_url,  # the functions' calls, through the outage proxy
        "FAILOVER_OUTAGE_PROXY": emulators.proxy_url,  # the time scale, for CloudWatch's alarm periods
        **moto_served(emulators.proxy_url),
        "AWS_ACCESS_KEY_ID": base_env.get("AWS_ACCESS_KEY_ID", "test"),
        "AWS_SECRET_ACCESS_KEY": base_env.get("AWS_SECRET_ACCESS_KEY", "test"),
    }


def start(
    ministack_bin: str | None = None, *, detach: bool = False, time_scale: float = DEFAULT_TIME_SCALE
) -> Emulators:
    """Start the outage proxy, moto_server, then ministack. ``detach`` starts them in their own session (for
    --keep); ``time_scale`` divides the state machine's waits (the proxy's slow changes are set per drill)."""
    if time_scale < 0:
        raise ValueError(f"time scale: must be 0 (instant) or more, got {time_scale:g}")
    binary = ministack_binary(ministack_bin)
    workdir = Path(tempfile.mkdtemp(prefix="failover-emulators-"))
    ms_port, moto_port, proxy_port, dns_port = free_port(), free_port(), free_port(), free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    emulators = Emulators(
        f"http://127.0.0.1:{ms_port}",
        f"http://127.0.0.1:{moto_port}",
        workdir,
        f"http://127.0.0.1:{proxy_port}",
        time_scale,
        f"127.0.0.1:{dns_port}",
    )
    proxy_cmd = [sys.executable, "-m", "failoverctl.drill.outage", "--port", str(proxy_port)]
    proxy_cmd += ["--upstream", emulators.ministack_url]
    proxy_cmd += [arg for name in MOTO_SIGNING_NAMES for arg in ("--route", f"{name}={emulators.moto_url}")]
    moto_cmd = [sys.executable, "-m", "failoverctl.drill.moto_as_aws", "-H", "127.0.0.1", "-p", str(moto_port)]
    dns_cmd = [sys.executable, "-m", "failoverctl.drill.route53_dns", "--port", str(dns_port)]
    dns_cmd += ["--emulator", emulators.ministack_url, "--proxy", emulators.proxy_url]
    started = (
        (proxy_cmd, base_env, "outage-proxy.log", f"{emulators.proxy_url}/_outage/report"),
        (moto_cmd, base_env, "moto.log", f"{emulators.moto_url}/moto-api/"),
        (
            [str(binary.parent / "python"), str(Path(__file__).with_name("ministack_as_aws.py"))],
            _ministack_env(base_env, emulators, ms_port),
            "ministack.log",
            f"{emulators.ministack_url}/_ministack/health",
        ),
    )
    try:
        for cmd, env, log, _ in started:
            with (workdir / log).open("wb") as out:
                emulators.procs.append(
                    subprocess.Popen(  # noqa: S603
                        cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=detach
                    )
                )
        for proc, (_, _, log, url) in zip(emulators.procs, started, strict=True):
            _wait_http(url, proc, workdir / log)
        with (workdir / "route53-dns.log").open("wb") as out:
            emulators.procs.append(
                subprocess.Popen(  # noqa: S603
                    dns_cmd, env=base_env, stdout=out, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=detach
                )
            )
        _wait_dns(emulators.dns, emulators.procs[-1], workdir / "route53-dns.log")
    except BaseException:
        emulators.stop()
        raise
    emulators.pids = [p.pid for p in emulators.procs]
    return emulators
