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
from typing import Any

from benchmarks.common import ROOT, fresh_python, median

RUNS = 7
LAMBDA_ENV = {
    "AWS_REGION": "us-west-2",
    "AWS_DEFAULT_REGION": "us-west-2",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",  # what the template sets with FunctionTracing=PassThrough (its default)
}


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


def run() -> dict[str, Any]:
    """Each function measured in alternation with `import boto3`, so the machine's load weighs on both alike."""
    functions = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))
    rows = {}
    baselines: list[float] = []
    for name in functions:
        handler, boto3 = [], []
        for _ in range(RUNS):
            boto3.append(import_seconds("boto3"))
            handler.append(import_seconds(f"functions.{name}.app"))
        baselines += boto3
        rows[name] = {
            "median_ms": round(median(handler) * 1000, 1),
            "ratio_to_boto3": round(median(handler) / median(boto3), 2),
        }
    return {
        "runs": RUNS,
        "boto3_median_ms": round(median(baselines) * 1000, 1),
        "functions": rows,
        "layer_bytes": layer_size(),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
