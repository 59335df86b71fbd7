"""ministack, corrected where it differs from AWS, for the drill's and the tests' world. Runs on the emulator's own
interpreter (``.venv-ministack/bin/python this_file.py``), so it imports nothing of the project.

- Route 53 ``CreateHealthCheck``/``UpdateHealthCheck``: a calculated check's ``ChildHealthChecks`` are kept (ministack
  1.5.33 reads each child's id from a nested element that does not exist and stores empty ids).
- Route 53 health checks answer their booleans (``Inverted``, ``Disabled``, ...) as ``true``/``false``, as AWS does;
  ministack writes Python's ``True``, which botocore reads as false.
- CloudWatch alarms are evaluated every second, as AWS evaluates them every period; ministack evaluates an alarm only
  when a datapoint arrives, so a datapoint that leaves the alarm's window never changes its state.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
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


def evaluate_alarms_periodically(interval_s: float = 1.0) -> None:
    """Every alarm of every account and region, re-evaluated against the datapoints in its window now."""
    from ministack.core import responses  # noqa: PLC0415
    from ministack.services import cloudwatch  # noqa: PLC0415

    if interval_s <= 0:
        return

    def run() -> None:
        while True:
            time.sleep(interval_s)
            scopes = {(account, region) for account, region, _ in list(cloudwatch._alarms._data)}
            for account, region in scopes:
                responses._request_account_id.set(account)
                responses.set_request_region(region)
                cloudwatch._evaluate_all_alarms()

    threading.Thread(target=run, name="alarm-evaluation", daemon=True).start()


def main() -> int:
    patch()
    evaluate_alarms_periodically()
    from ministack.app import main as ministack_main  # noqa: PLC0415

    sys.argv[0] = "ministack"
    result: int = ministack_main() or 0
    return result


if __name__ == "__main__":
    sys.exit(main())
