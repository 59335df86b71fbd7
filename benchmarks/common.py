"""Shared by the benchmarks: repeated timing, medians, and the machine they ran on."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE_PACKAGES = next(p for p in sys.path if p.endswith("site-packages"))
# -S and an explicit path: the interpreter sees the layer and the libraries, as in Lambda, and not this
# checkout's editable-install finder (which alone adds ~30 ms of metadata look-ups to every import).
PYTHONPATH = os.pathsep.join(
    [str(ROOT / "layers" / "failover" / "python"), str(ROOT / "cli"), str(ROOT), SITE_PACKAGES]
)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()} {platform.machine()}"
    )


def fresh_python(code: str, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a new interpreter (nothing imported yet) and return what it prints."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": PYTHONPATH, **(env or {})},
        cwd=ROOT,
    )
    return done.stdout.strip()
