"""After every step: does the world read as a completed failover to the target region?

Read independently of what the steps reported: the Aurora writer, the write-region parameter, the target
endpoint's capacity and weights, and where DNS sends the names (asked of the zone's name servers). Any
mismatch raises VerificationFailed naming each one. With ``capacity: traffic`` (traffic moved, the standby did not
reach full capacity) the endpoints are held to the plan's traffic counts in service, weights as they are.
"""

from __future__ import annotations

from typing import Any

from failover_controller.changes import expected_answers
from failover_controller.errors import VerificationFailed
from failover_controller.plan import Endpoint
from failover_controller.reads import aurora, dns, route53, sagemaker
from failover_controller.reads.parameters import write_region
from failover_controller.results import Check, StepResult
from failover_controller.steps.base import StepRequest

STEP = "verify"
ACTIONS = ("check",)
PARAMS: dict[str, type] = {"capacity": str}


def check(req: StepRequest) -> StepResult:
    result = req.result(STEP)
    target = req.target_region
    cluster = aurora.global_cluster(req)
    writes = write_region(req.plan, target, req.clients)
    result.checks = [
        Check(
            "aurora.writer",
            req.plan.global_cluster_id,
            cluster["writer_arn"],
            cluster["target_arn"],
            "pass" if aurora.is_promoted(cluster) else "fail",
            _not_settled(cluster),
        ),
        Check(
            "dynamodb.write_region",
            req.plan.write_region_parameter,
            writes,
            target,
            "pass" if writes == target else "fail",
        ),
        *[_endpoint_check(req, endpoint) for endpoint in req.plan.endpoints[target]],
        _dns_check(req),
    ]
    failing = [
        f"{c.name} {c.resource}: observed {c.observed!r}, wanted {c.threshold!r}"
        + (f" ({c.detail})" if c.detail else "")
        for c in result.checks
        if c.verdict == "fail"
    ]
    result.before = result.after = {"verdicts": {c.name: c.verdict for c in result.checks}}
    if req.dry_run:
        result.message = "dry run: nothing was changed; the checks show the world as it is"
        return result
    if failing:
        raise VerificationFailed(
            "the failover did not verify: " + "; ".join(failing),
            details={"checks": [c.__dict__ for c in result.checks]},
        )
    reduced = " (at the plan's traffic capacity, below full)" if req.params.get("capacity") == "traffic" else ""
    result.message = f"verified: {req.plan.application} is served from {target}{reduced}"
    return result


def _not_settled(cluster: dict[str, Any]) -> str:
    """Why a writer in the target is not yet promoted (Verify's message would otherwise read "observed X, wanted X")."""
    if cluster["in_progress"]:
        return f"an operation is under way: {cluster['operation_status']}"
    if cluster["target_is_writer"] and not aurora.is_promoted(cluster):
        return (
            f"the global cluster is {cluster['global_cluster_status']}, the target cluster "
            f"{cluster['target_cluster_status']}"
        )
    return ""


def _endpoint_check(req: StepRequest, endpoint: Endpoint) -> Check:
    seen = sagemaker.endpoint_state(req, req.target_region, endpoint)
    observed = {"status": seen["status"], "variants": seen["variants"]}
    if req.params.get("capacity") == "traffic":
        counts = req.plan.traffic_counts(endpoint, req.mode)
        return Check(
            "sagemaker.serving",
            endpoint.endpoint_name,
            observed,
            {name: {"in_service_at_least": n} for name, n in counts.items()},
            "pass" if sagemaker.serves_at(seen, counts) else "fail",
        )
    active = sagemaker.active_config(endpoint)
    return Check(
        "sagemaker.active",
        endpoint.endpoint_name,
        observed,
        {name: {"weight": w.weight, "at_least": w.count} for name, w in active.items()},
        "pass" if sagemaker.at_config(seen, active) else "fail",
    )


def _dns_check(req: StepRequest) -> Check:
    """Where DNS sends the plan's names, asked of the zone's name servers when the plan says what each region's
    answers are (always in data_plane mode); otherwise the records read back through Route 53's API."""
    if req.plan.name_servers and all(r.values for r in req.plan.records):
        seen = dns.served_from(req.plan)
        # data_plane: a graceful failback leaves nobody claiming, which latency records answer by the client's region.
        expected = expected_answers(req, req.target_region) if req.plan.dns_mode == "data_plane" else req.target_region
        elsewhere = sorted(
            f"{name} answers {d.get('by_client') or d['answers']}"
            for name, d in seen.items()
            if not dns.answers_as(d, expected)
        )
        return Check(
            "dns.answers",
            ", ".join(seen),
            {name: d.get("by_client") or d["region"] for name, d in seen.items()},
            dns.described(expected),
            "fail" if elsewhere else "pass",
            "; ".join(elsewhere),
        )
    pending = route53.changes_toward(req)
    return Check(
        "route53.routes_to_target",
        req.plan.hosted_zone_id,
        len(pending),
        0,
        "pass" if not pending else "fail",
        "" if not pending else f"{len(pending)} record set(s) still route elsewhere",
    )


def run(req: StepRequest) -> StepResult:
    return check(req)
