"""Cold start: each function's handler module imported in a fresh interpreter, as a ratio to `import boto3`.

What a Lambda cold start adds to the runtime's own start is mostly imports; boto3 is imported by every
function anyway, so the ratio says what the controller's own code and powertools cost on top of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import ROOT, fresh_python, median

RUNS = 7
LAMBDA_ENV = {"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-west-2", "POWERTOOLS_SERVICE_NAME": "bench"}


def import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(fresh_python(code, LAMBDA_ENV))


def layer_size() -> int:
    """Bytes of the built layer (its Makefile, as `sam build` runs it), boto3/botocore excluded."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [
                "make",
                "-s",
                "-C",
                str(ROOT / "layers" / "failover"),
                "build-FailoverLayer",
                f"ARTIFACTS_DIR={out}",
                f"PYTHON={sys.executable}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        return sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())


def run() -> dict[str, object]:
    boto3 = median([import_seconds("boto3") for _ in range(RUNS)])
    functions = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
    rows = {}
    for name in functions:
        seconds = median([import_seconds(f"functions.{name}.app") for _ in range(RUNS)])
        rows[name] = {"median_ms": round(seconds * 1000, 1), "ratio_to_boto3": round(seconds / boto3, 2)}
    return {"runs": RUNS, "boto3_median_ms": round(boto3 * 1000, 1), "functions": rows, "layer_bytes": layer_size()}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
