"""A Docker engine, and a stand-in for Lambda's python3.13 arm64 base image, for `sam local invoke` on a machine
that reaches no image registry (`make test-sam-local`).

The engine: the one DOCKER_HOST names, or the system's, or else Debian's dockerd, started here on a private socket
and stopped at the end (with every container it ran). Its images are kept in .sam-local/ between runs.

The image (docs/deploy.md, "Invoking one function with sam local"): Debian trixie's python3.13 for arm64, the
packages that debootstrap resolves, unpacked with dpkg-deb. Their maintainer scripts are not run: under emulation
they take about 5 minutes, and of what they make a Lambda runtime reads only the user database and the CA bundle,
made here as they would. On top: awslambdaric (the Runtime Interface Client, which AWS's python images run) and
boto3 at the project's pin, the layout AWS's images have (/var/lang, /var/runtime/bootstrap, /var/task), all
compiled once by a host Python 3.13. The SAM CLI adds its own runtime interface emulator on top, as it does to
AWS's image.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from failoverctl.paths import ROOT

STATE = ROOT / ".sam-local"
IMAGE = "failover-controller/lambda-python:3.13-arm64"
PLATFORM = "linux/arm64"
SUITE = "trixie"  # Debian's release whose python3 is 3.13, the functions' runtime
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
RUNTIME = ("awslambdaric==4.2.2", "boto3==1.43.106", "botocore==1.43.106")  # boto3: the project's pin
SITE = "var/lang/lib/python3.13/site-packages"
BOOTSTRAP = """#!/bin/sh
# The stand-in's runtime: the Runtime Interface Client runs the handler the emulator names.
export AWS_EXECUTION_ENV=AWS_Lambda_python3.13
exec /var/lang/bin/python3.13 -m awslambdaric "${_HANDLER:-$AWS_LAMBDA_FUNCTION_HANDLER}"
"""
DOCKERFILE = f"""FROM scratch
ADD rootfs.tar /
ENV LANG=C.UTF-8 TZ=:/etc/localtime PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin \\
    LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime \\
    PYTHONPATH=/var/task:/opt/python/lib/python3.13/site-packages:/opt/python:/{SITE}:/var/runtime
WORKDIR /var/task
"""


def recipe() -> str:
    """What the image is made from: a new recipe builds a new image."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


@dataclass
class Engine:
    host: str  # DOCKER_HOST
    proc: subprocess.Popen[bytes] | None = None  # dockerd, when started here
    rundir: Path | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"}

    def docker(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        cli = shutil.which("docker")
        if cli is None:
            raise RuntimeError("no docker client: run tests/sam_local/prepare-host (make test-sam-local does)")
        return subprocess.run(  # noqa: S603
            [cli, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def answers(self) -> bool:
        return self.docker("version", "--format", "{{.Server.Version}}", timeout=30).returncode == 0

    def stop(self) -> None:
        """Stop dockerd if it was started here: its containers, and its containerd, stop with it."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        if self.rundir:
            shutil.rmtree(self.rundir, ignore_errors=True)


def engine() -> Engine:
    """The running engine DOCKER_HOST names, or the system's, else a dockerd of our own (root), on a socket only we
    use."""
    if os.environ.get("DOCKER_HOST"):
        running = Engine(os.environ["DOCKER_HOST"])
        if not running.answers():
            raise RuntimeError(f"DOCKER_HOST={running.host} does not answer")
        return running
    system = Engine("unix:///var/run/docker.sock")
    if Path("/var/run/docker.sock").exists() and system.answers():
        return system
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise RuntimeError("no dockerd: run tests/sam_local/prepare-host (make test-sam-local does)")
    rundir = Path(tempfile.mkdtemp(prefix="fc-docker-"))  # short: containerd's socket path is limited
    STATE.mkdir(exist_ok=True)
    log = STATE / "dockerd.log"
    args = [dockerd, "--host", f"unix://{rundir}/docker.sock", "--data-root", str(STATE / "docker")]
    args += ["--exec-root", str(rundir / "exec"), "--pidfile", str(rundir / "docker.pid")]
    # Published ports (the SAM CLI's, to reach its container) on the loopback only; no firewall rules written.
    args += ["--ip", "127.0.0.1", "--iptables=false", "--ip6tables=false"]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
    started = Engine(f"unix://{rundir}/docker.sock", proc, rundir)
    deadline = time.monotonic() + 60
    while not started.answers():
        if proc.poll() is not None or time.monotonic() > deadline:
            started.stop()
            raise RuntimeError(f"dockerd did not start; {log}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
    return started


def image(docker: Engine) -> str:
    """The stand-in image, built unless the engine has this recipe's already."""
    seen = docker.docker("image", "inspect", IMAGE, "--format", '{{index .Config.Labels "recipe"}}')
    if seen.returncode == 0 and seen.stdout.strip() == recipe():
        return IMAGE
    with tempfile.TemporaryDirectory(prefix="fc-image-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        _debian(rootfs)
        _runtime(rootfs)
        context = Path(tmp) / "context"
        context.mkdir()
        tar = ["tar", "-C", str(rootfs), "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*"]
        _run([*tar, "-cf", str(context / "rootfs.tar"), "."], "tar")
        (context / "Dockerfile").write_text(DOCKERFILE + f"LABEL recipe={recipe()}\n", encoding="utf-8")
        built = docker.docker("build", "--platform", PLATFORM, "-q", "-t", IMAGE, str(context))
        if built.returncode != 0:
            raise RuntimeError(f"docker build of {IMAGE} failed:\n{built.stderr[-3000:]}")
    if docker.proc is not None:  # our own engine: the previous recipe's image is no longer named
        docker.docker("image", "prune", "--force")
    return IMAGE


def _run(args: list[str], what: str, timeout: float = 900) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")


def _debian(rootfs: Path) -> None:
    """python3.13 and what it needs, for arm64, unpacked."""
    _run(
        [
            "debootstrap",
            "--foreign",
            "--arch=arm64",
            "--variant=minbase",
            "--include=python3.13,ca-certificates",
            SUITE,
            str(rootfs),
            MIRROR,
        ],
        "debootstrap",
    )
    archives = rootfs / "var" / "cache" / "apt" / "archives"
    for deb in sorted(archives.glob("*.deb")):
        _run(["dpkg-deb", "-x", str(deb), str(rootfs)], f"dpkg-deb -x {deb.name}")
        deb.unlink()
    shutil.rmtree(rootfs / "debootstrap")
    # base-passwd's and ca-certificates' maintainer scripts, as they would run them.
    for name in ("passwd", "group"):
        shutil.copyfile(rootfs / "usr/share/base-passwd" / f"{name}.master", rootfs / "etc" / name)
    certs = sorted((rootfs / "usr/share/ca-certificates").rglob("*.crt"))
    bundle = rootfs / "etc/ssl/certs/ca-certificates.crt"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_text("".join(c.read_text(encoding="ascii") for c in certs), encoding="ascii")


def _runtime(rootfs: Path) -> None:
    """AWS's layout, the Runtime Interface Client and boto3 (wheels for the target), compiled."""
    from failoverctl.drill.toolchain import python313_dir  # noqa: PLC0415 - a test-support import

    lang = rootfs / "var" / "lang" / "bin"
    lang.mkdir(parents=True)
    (lang / "python3.13").symlink_to("/usr/bin/python3.13")
    (lang / "python3").symlink_to("python3.13")
    for folder in ("var/task", "var/runtime", "opt"):
        (rootfs / folder).mkdir(parents=True, exist_ok=True)
    bootstrap = rootfs / "var" / "runtime" / "bootstrap"
    bootstrap.write_text(BOOTSTRAP, encoding="utf-8")
    bootstrap.chmod(0o755)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--only-binary=:all:"]
    pip += ["--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.13"]
    _run([*pip, "--target", str(rootfs / SITE), *RUNTIME], "pip install of the runtime")
    # Bytecode is the same on every architecture: compiled here, not under emulation at each import.
    python = Path(python313_dir()) / "python3.13"
    for tree in (rootfs / "usr/lib/python3.13", rootfs / SITE):
        compile_ = [str(python), "-m", "compileall", "-q", "-j", "0", "-s", str(rootfs), "-p", "/", str(tree)]
        _run(compile_, f"compileall {tree.name}")
