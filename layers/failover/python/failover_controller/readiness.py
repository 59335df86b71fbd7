"""Always know whether a failover would work: the preflight checks of every plan, changing nothing.

Run on a schedule in each region of a pair (a failover *into* that region), published as metrics per plan:
``Ready`` (1 or 0), ``FailingChecks`` and ``UnknownChecks``. A check the service cannot answer is unknown,
never passed; unknown does not make a plan not-ready, failing does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from failover_controller.clients import ClientFactory
from failover_controller.config import ReadinessConfig
from failover_controller.errors import FailoverError, NotReady
from failover_controller.observability import logger, metrics
from failover_controller.plan import RecoveryPlan
from failover_controller.plan_store import PlanStore
from failover_controller.steps import preflight
from failover_controller.steps.base import StepRequest


def assess(plan: RecoveryPlan, region: str, factory: ClientFactory) -> dict[str, Any]:
    """The graceful preflight of a failover of ``plan`` into ``region``, as a report (never raises NotReady)."""
    req = StepRequest(plan=plan, target_region=region, mode="graceful", dry_run=True, action="check", clients=factory)
    try:
        checks = [c.__dict__ for c in preflight.check(req).checks]
    except NotReady as exc:
        checks = list(exc.details["checks"])
    failing = [c for c in checks if c["verdict"] == "fail"]
    return {
        "plan": plan.application,
        "region": region,
        "ready": not failing,
        "failing": len(failing),
        "unknown": sum(c["verdict"] == "unknown" for c in checks),
        "checks": checks,
    }


def run(config: ReadinessConfig, factory: ClientFactory) -> dict[str, Any]:
    reports = []
    for name in config.plans:
        factory.begin(config.region)  # each plan's checks get their own budget for the peer region
        try:
            plan = PlanStore.of(config, factory).load(name)
            report = assess(plan, config.region, factory)
        except FailoverError as exc:
            report = {
                "plan": name,
                "region": config.region,
                "ready": False,
                "failing": 1,
                "unknown": 0,
                "checks": [],
                "error": f"{type(exc).__name__}: {exc.message}",
            }
        with metrics_for(name) as m:
            m.add_metric(name="Ready", unit=MetricUnit.Count, value=1 if report["ready"] else 0)
            m.add_metric(name="FailingChecks", unit=MetricUnit.Count, value=report["failing"])
            m.add_metric(name="UnknownChecks", unit=MetricUnit.Count, value=report["unknown"])
        logger.info(
            "readiness",
            extra={
                "plan": name,
                "ready": report["ready"],
                "failing": report["failing"],
                "unknown": report["unknown"],
                "failing_checks": [f"{c['name']} {c['resource']}" for c in report["checks"] if c["verdict"] == "fail"],
            },
        )
        reports.append(report)
    return {"region": config.region, "plans": reports}


@contextlib.contextmanager
def metrics_for(plan: str) -> Iterator[Metrics]:
    """One EMF document per plan, dimensioned by plan (powertools' dimensions apply to a whole flush)."""
    metrics.add_dimension(name="plan", value=plan)
    try:
        yield metrics
    finally:
        metrics.flush_metrics()
