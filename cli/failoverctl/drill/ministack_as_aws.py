"""ministack, corrected where it differs from AWS, for the drill's and the tests' world. Runs on the emulator's own
interpreter (``.venv-ministack/bin/python this_file.py``), so it imports nothing of the project.

- Route 53 ``CreateHealthCheck``/``UpdateHealthCheck``: a calculated check's ``ChildHealthChecks`` are kept (ministack
  1.5.33 reads each child's id from a nested element that does not exist and stores empty ids).
- Route 53 health checks answer their booleans (``Inverted``, ``Disabled``, ...) as ``true``/``false``, as AWS does;
  ministack writes Python's ``True``, which botocore reads as false.
- A Python handler's exception reaches its caller with ``errorType`` its class name, as AWS's Python runtime reports
  it (ministack 1.5.33 says ``Runtime.HandlerError`` for every one): Step Functions' Retry and Catch on error names
  (``TransientAwsError``) then run in the drill as on AWS.
- CloudWatch alarms are evaluated as CloudWatch evaluates them (user guide, "Evaluating an alarm"): per period bucket
  of their own series (dimensions matched exactly), when each period ends, DatapointsToAlarm of the last
  EvaluationPeriods, with TreatMissingData (except that an alarm with no data keeps its state, where AWS would go to
  INSUFFICIENT_DATA: the drill sets the plan's signal alarms by hand); continuously, not only when a datapoint
  arrives. ministack evaluates a
  sliding window over every series of the metric at each PutMetricData. A period lasts its seconds divided by the
  drill's time scale (read from the outage proxy, ``FAILOVER_OUTAGE_PROXY``), never under one second; at time scale 0
  the current second counts as a period. Metric-math and extended-statistic alarms keep ministack's evaluation.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any


def patch() -> None:
    from ministack.services import route53  # noqa: PLC0415 - only in the emulator's interpreter

    original = route53._parse_health_check_config
    if getattr(original, "keeps_children", False):
        return

    @functools.wraps(original)
    def parse(el: Any) -> dict[str, Any]:
        cfg: dict[str, Any] = original(el)
        children = route53._find(el, "ChildHealthChecks")
        if children is not None:
            found = route53._findall(children, "ChildHealthCheck")
            cfg["ChildHealthChecks"] = [(c.text or "").strip() for c in found]
        return cfg

    parse.keeps_children = True  # type: ignore[attr-defined]
    route53._parse_health_check_config = parse

    build = route53._build_health_check_el

    @functools.wraps(build)
    def built(parent: Any, hc: dict[str, Any]) -> None:
        build(parent, hc)
        for el in parent.iter():
            if el.text in ("True", "False"):
                el.text = el.text.lower()

    route53._build_health_check_el = built


_WORKER_ERROR = 'json.dumps({"status": "error", "error": str(e), "trace": traceback.format_exc()})'
_WORKER_ERROR_NAMED = (
    'json.dumps({"status": "error", "error": str(e), "error_type": type(e).__name__, "trace": traceback.format_exc()})'
)


def keep_error_names() -> None:
    """errorType: the exception's class name, carried from the Python worker to the invocation's error payload."""
    from ministack.core import lambda_runtime  # noqa: PLC0415
    from ministack.services import lambda_svc  # noqa: PLC0415

    script = lambda_runtime._PYTHON_WORKER_SCRIPT
    if _WORKER_ERROR not in script:
        return  # already patched, or a ministack whose worker says something else: its errors stay as they are
    lambda_runtime._PYTHON_WORKER_SCRIPT = script.replace(_WORKER_ERROR, _WORKER_ERROR_NAMED)
    seen = threading.local()
    invoke = lambda_runtime.Worker.invoke

    @functools.wraps(invoke)
    def invoke_keeping_the_name(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = invoke(self, *args, **kwargs)
        seen.error_type = result.get("error_type") if isinstance(result, dict) else None
        return result

    execute = lambda_svc._execute_function_warm

    @functools.wraps(execute)
    def execute_naming_the_error(func: Any, event: Any, request_id: str) -> Any:
        seen.error_type = None
        out = execute(func, event, request_id)
        body = out.get("body") if isinstance(out, dict) else None
        named = getattr(seen, "error_type", None)
        if out.get("error") and isinstance(body, dict) and body.get("errorType") == "Runtime.HandlerError" and named:
            body["errorType"] = named
        return out

    lambda_runtime.Worker.invoke = invoke_keeping_the_name
    lambda_svc._execute_function_warm = execute_naming_the_error


_SCALE = {"value": 0.0}


def period_s(period: float, scale: float) -> float:
    """How long an alarm period lasts in the drill's time: scaled, in whole seconds, at least one."""
    return float(max(1, round(period / scale))) if scale else 1.0


def period_state(alarm: dict[str, Any], points: list[dict[str, Any]], now: float, scale: float) -> str | None:
    """The alarm's state from its series' datapoints; None: keep the state it has (TreatMissingData ignore)."""
    bucket = period_s(float(alarm.get("Period") or 60), scale)
    periods = int(alarm.get("EvaluationPeriods") or 1)
    current = math.floor(now / bucket)
    last = current if not scale else current - 1  # scale 0: every change instant, the current second counts
    values: dict[int, list[float]] = {}
    for point in points:
        index = math.floor(float(point["Timestamp"]) / bucket)
        if last - periods < index <= last:
            values.setdefault(index, []).append(float(point["Value"]))
    if not values:
        # AWS: missing → INSUFFICIENT_DATA. Kept here instead: the drill sets the plan's signal alarms by hand
        # (SetAlarmState, standing in for the data that would make them fire), which no data must not undo.
        return {"breaching": "ALARM", "notBreaching": "OK"}.get(str(alarm.get("TreatMissingData") or "missing"))
    statistic = str(alarm.get("Statistic") or "Average")
    reduce: dict[str, Callable[[list[float]], float]] = {
        "Minimum": min,
        "Maximum": max,
        "Sum": sum,
        "SampleCount": lambda v: float(len(v)),
        "Average": lambda v: sum(v) / len(v),
    }
    threshold, op = float(alarm.get("Threshold") or 0), str(alarm.get("ComparisonOperator") or "")
    compare: dict[str, Callable[[float], bool]] = {
        "GreaterThanOrEqualToThreshold": lambda v: v >= threshold,
        "GreaterThanThreshold": lambda v: v > threshold,
        "LessThanThreshold": lambda v: v < threshold,
        "LessThanOrEqualToThreshold": lambda v: v <= threshold,
    }
    breaching = sum(compare[op](reduce[statistic](v)) for v in values.values())
    return "ALARM" if breaching >= int(alarm.get("DatapointsToAlarm") or periods) else "OK"


def evaluate_per_period() -> None:
    """ministack's alarm evaluation replaced, for metric alarms on one series with a standard statistic."""
    from ministack.services import cloudwatch  # noqa: PLC0415

    original = cloudwatch._evaluate_alarm
    if getattr(original, "per_period", False):
        return

    @functools.wraps(original)
    def evaluate(alarm: dict[str, Any]) -> None:
        simple = alarm.get("Namespace") and not alarm.get("ExtendedStatistic") and not alarm.get("Metrics")
        if not simple or alarm.get("ComparisonOperator") not in _SIMPLE_OPERATORS:
            original(alarm)
            return
        dims = alarm.get("Dimensions") or []
        dims = cloudwatch._dims_from_list(dims) if isinstance(dims, list) else dict(dims)
        points = list(
            cloudwatch._metrics.get((alarm["Namespace"], alarm["MetricName"], cloudwatch._dims_key(dims))) or []
        )
        state = period_state(alarm, points, time.time(), _SCALE["value"])
        old = alarm["StateValue"]
        if state is None or state == old:
            return
        reason = f"Threshold Crossed: {alarm.get('Statistic')} of the last {alarm.get('EvaluationPeriods')} period(s)"
        alarm["StateValue"], alarm["StateReason"] = state, reason
        alarm["StateUpdatedTimestamp"] = int(time.time())
        cloudwatch._record_history(alarm["AlarmName"], old, state, reason)
        cloudwatch._dispatch_alarm_actions(alarm, old, state, reason)
        cloudwatch._evaluate_parent_alarms(alarm)

    evaluate.per_period = True  # type: ignore[attr-defined]
    cloudwatch._evaluate_alarm = evaluate


_SIMPLE_OPERATORS = {
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
}


def _follow_the_time_scale() -> None:
    proxy = os.environ.get("FAILOVER_OUTAGE_PROXY", "")
    if not proxy:
        return
    try:
        with urllib.request.urlopen(f"{proxy}/_outage/state", timeout=2) as r:  # noqa: S310 - loopback
            _SCALE["value"] = float(json.loads(r.read())["time_scale"])
    except (OSError, ValueError, KeyError):
        return


def evaluate_alarms_periodically(interval_s: float = 0.25) -> None:
    """Every alarm of every account and region, re-evaluated now: CloudWatch evaluates alarms as periods end, not
    only when a datapoint arrives."""
    from ministack.core import responses  # noqa: PLC0415
    from ministack.services import cloudwatch  # noqa: PLC0415

    if interval_s <= 0:
        return

    def run() -> None:
        rounds = 0
        while True:
            time.sleep(interval_s)
            if rounds % 4 == 0:
                _follow_the_time_scale()
            rounds += 1
            scopes = {(account, region) for account, region, _ in list(cloudwatch._alarms._data)}
            for account, region in scopes:
                responses._request_account_id.set(account)
                responses.set_request_region(region)
                cloudwatch._evaluate_all_alarms()

    threading.Thread(target=run, name="alarm-evaluation", daemon=True).start()


def main() -> int:
    patch()
    keep_error_names()
    evaluate_per_period()
    evaluate_alarms_periodically()
    from ministack.app import main as ministack_main  # noqa: PLC0415

    sys.argv[0] = "ministack"
    result: int = ministack_main() or 0
    return result


if __name__ == "__main__":
    sys.exit(main())
