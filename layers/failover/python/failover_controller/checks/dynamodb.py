"""DynamoDB: every table ACTIVE in the target and replicating with the source, the write-region parameter there,
and (graceful) replication toward the target within the RPO."""

from __future__ import annotations

from functools import partial

from failover_controller.checks import guarded, skipped_ungraceful
from failover_controller.reads.cloudwatch import newest_maximum
from failover_controller.reads.dynamodb import table_replica
from failover_controller.reads.parameters import write_region
from failover_controller.results import Check
from failover_controller.steps.base import StepRequest


def checks(req: StepRequest) -> list[Check]:
    out = [guarded("dynamodb.replica_active", t, "ACTIVE", partial(_replica, req, t)) for t in req.plan.dynamodb_tables]
    name = req.plan.write_region_parameter
    out.append(guarded("dynamodb.write_region_parameter", name, "exists", partial(_write_region_parameter, req)))
    return out


def _replica(req: StepRequest, table: str) -> Check:
    info = table_replica(req, table)
    ok = info["table_status"] == "ACTIVE" and req.source_region in info["replicas"]
    detail = "" if ok else f"needs ACTIVE here and a replica in {req.source_region}"
    observed = {"status": info["table_status"], "replicates_with": sorted(info["replicas"])}
    return Check("dynamodb.replica_active", table, observed, "ACTIVE", "pass" if ok else "fail", detail)


def _write_region_parameter(req: StepRequest) -> Check:
    name = req.plan.write_region_parameter
    value = write_region(req.plan, req.target_region, req.clients)
    ok = value is not None
    detail = "" if ok else f"parameter missing in {req.target_region}"
    return Check("dynamodb.write_region_parameter", name, value, "exists", "pass" if ok else "fail", detail)


def latency_checks(req: StepRequest) -> list[Check]:
    """DynamoDB's ReplicationLatency toward the target, read in the source region; bound: the plan's RPO."""
    budget = req.plan.rpo_seconds * 1000
    out = []
    for table in req.plan.dynamodb_tables:
        resource = f"{table} (AWS/DynamoDB ReplicationLatency, ReceivingRegion={req.target_region})"
        if not req.graceful:
            out.append(skipped_ungraceful("dynamodb.replication_latency_ms", resource, budget, req.source_region))
        else:
            out.append(
                guarded("dynamodb.replication_latency_ms", resource, budget, partial(_latency, req, table, resource))
            )
    return out


def _latency(req: StepRequest, table: str, resource: str) -> Check:
    name, budget = "dynamodb.replication_latency_ms", req.plan.rpo_seconds * 1000
    dimensions = {"TableName": table, "ReceivingRegion": req.target_region}
    value = newest_maximum(req.clients, req.source_region, "AWS/DynamoDB", "ReplicationLatency", dimensions, what=table)
    if value is None:
        return Check(name, resource, None, budget, "unknown", "no datapoint in the last 5 minutes")
    ok = value <= budget
    detail = "" if ok else "replication to the target is behind by more than the RPO"
    return Check(name, resource, value, budget, "pass" if ok else "fail", detail)
