"""SageMaker: each target endpoint serves the plan's variants, and (graceful) the same model as its source."""

from __future__ import annotations

from functools import partial

from failover_controller.checks import guarded, skipped_ungraceful
from failover_controller.plan import Endpoint
from failover_controller.reads import sagemaker
from failover_controller.results import Check
from failover_controller.steps.base import StepRequest

SERVING = frozenset({"InService", "Updating", "SystemUpdating"})


def pairs(req: StepRequest) -> list[tuple[Endpoint, Endpoint]]:
    """Each target endpoint with the source endpoint at its position (they serve the same model)."""
    return list(zip(req.plan.endpoints[req.target_region], req.plan.endpoints[req.source_region], strict=True))


def checks(req: StepRequest) -> list[Check]:
    out = []
    for target, source in pairs(req):
        name = target.endpoint_name
        out.append(guarded("sagemaker.endpoint_in_service", name, "InService", partial(_in_service, req, target)))
        out.append(
            guarded("sagemaker.same_model_as_source", name, "identical", partial(_same_model, req, target, source))
        )
    return out


def _in_service(req: StepRequest, endpoint: Endpoint) -> Check:
    name = "sagemaker.endpoint_in_service"
    seen = sagemaker.endpoint_state(req, req.target_region, endpoint)
    missing = sorted({v.variant_name for v in endpoint.variants} - set(seen["variants"]))
    if missing:
        detail = f"missing variant(s) {', '.join(missing)}"
        return Check(name, endpoint.endpoint_name, seen["status"], "InService", "fail", detail)
    serving = seen["status"] in SERVING
    detail = "" if serving else str(seen.get("failure_reason") or "")
    if seen["status"] == "SystemUpdating":
        detail = "AWS maintenance under way: it serves, and scaling waits until it completes"
    return Check(name, endpoint.endpoint_name, seen["status"], "InService", "pass" if serving else "fail", detail)


def _same_model(req: StepRequest, endpoint: Endpoint, source: Endpoint) -> Check:
    name = "sagemaker.same_model_as_source"
    if not req.graceful:
        return skipped_ungraceful(name, endpoint.endpoint_name, "source's model", req.source_region)
    target = sagemaker.model_of(req, req.target_region, endpoint.endpoint_name)
    serving = sagemaker.model_of(req, req.source_region, source.endpoint_name)
    differ = sorted(v for v in target if serving.get(v) != target[v])
    detail = f"variant(s) {', '.join(differ)} serve a different image or model data" if differ else ""
    observed = {"target": target, "source": serving}
    return Check(name, endpoint.endpoint_name, observed, "identical", "fail" if differ else "pass", detail)
