"""Point the application's DynamoDB writes at the target region.

Global tables replicate in every direction; what decides where the application writes is its write-region
SSM parameter (named by the plan). The step checks that every table has an ACTIVE replica in the target
region, then sets the parameter to the target region: in the target region always, and in the source
region too in graceful mode (in ungraceful mode the source is not consulted and is reconciled on failback).
"""

from __future__ import annotations

from typing import Any

from failover_controller.aws import call
from failover_controller.clients import ClientFactory
from failover_controller.errors import PreconditionFailed, StepFailed
from failover_controller.plan import RecoveryPlan
from failover_controller.results import PlannedAction, StepResult
from failover_controller.steps.base import StepRequest
from failover_controller.steps.promote_aurora import require_writer

STEP = "switch_dynamodb_writes"
ACTIONS = ("switch",)
PARAMS: dict[str, type] = {}


def table_replica(req: StepRequest, table: str) -> dict[str, Any]:
    """The table as its target-region replica sees it: status and the regions it replicates with."""
    region = req.target_region
    desc = call(f"DynamoDB table {table} in {region}", req.clients.dynamodb(region).describe_table, TableName=table)[
        "Table"
    ]
    replicas = {r["RegionName"]: r.get("ReplicaStatus") for r in desc.get("Replicas", [])}
    return {"table_status": desc.get("TableStatus"), "replicas": replicas}


def read_parameter_in(plan: RecoveryPlan, region: str, factory: ClientFactory) -> str | None:
    """The application's write region as the parameter in ``region`` says; None if it does not exist."""
    name = plan.write_region_parameter
    try:
        return call(f"SSM parameter {name} in {region}", factory.ssm(region).get_parameter, Name=name)["Parameter"][
            "Value"
        ]
    except PreconditionFailed:
        return None


def read_parameter(req: StepRequest, region: str) -> str | None:
    return read_parameter_in(req.plan, region, req.clients)


def parameter_regions(req: StepRequest) -> list[str]:
    """Target first, so that a crash between the two writes leaves the target region right."""
    return [req.target_region, req.source_region] if req.graceful else [req.target_region]


def observe(req: StepRequest) -> dict[str, Any]:
    return {
        "tables": {t: table_replica(req, t) for t in req.plan.dynamodb_tables},
        "write_region": {r: read_parameter(req, r) for r in parameter_regions(req)},
    }


def switch(req: StepRequest) -> StepResult:
    result = req.result(STEP)
    seen = observe(req)
    result.before = seen
    not_ready = [
        f"{table} is {info['table_status']} in {req.target_region}"
        for table, info in seen["tables"].items()
        if info["table_status"] != "ACTIVE"
    ] + [
        f"{table} has no replica in {req.source_region} (not a global table pair)"
        for table, info in seen["tables"].items()
        if req.source_region not in info["replicas"]
    ]
    if not_ready:
        raise PreconditionFailed("DynamoDB replicas not ready: " + "; ".join(not_ready))
    missing = [r for r, value in seen["write_region"].items() if value is None]
    if missing:
        raise PreconditionFailed(
            f"write-region parameter {req.plan.write_region_parameter} does not exist in {', '.join(missing)}"
        )

    name = req.plan.write_region_parameter
    for region, value in seen["write_region"].items():
        if value != req.target_region:
            result.actions.append(
                PlannedAction(
                    api="ssm:PutParameter",
                    region=region,
                    params={"Name": name, "Value": req.target_region, "Overwrite": True, "previous": value},
                )
            )
    if not result.actions:
        result.after = seen
        result.message = f"writes already go to {req.target_region}; nothing to do"
        return _note_source(req, result)
    if not req.dry_run:
        require_writer(req, "writes")
    if req.dry_run:
        result.after = seen
        result.message = f"dry run: would set {name} to {req.target_region} in " + ", ".join(
            a.region for a in result.actions
        )
        return _note_source(req, result)

    for action in result.actions:
        response = call(
            f"SSM PutParameter {name} in {action.region}",
            req.clients.ssm(action.region).put_parameter,
            Name=name,
            Value=req.target_region,
            Type="String",
            Overwrite=True,
        )
        action.performed, action.response = True, {"Version": response.get("Version")}
    after = observe(req)
    result.after, result.changed = after, True
    wrong = {r: v for r, v in after["write_region"].items() if v != req.target_region}
    if wrong:
        raise StepFailed(f"write-region parameter {name} still reads {wrong} after the update")
    result.message = f"writes now go to {req.target_region}; previous value " + ", ".join(
        f"{a.region}={a.params['previous']}" for a in result.actions
    )
    return _note_source(req, result)


def _note_source(req: StepRequest, result: StepResult) -> StepResult:
    if not req.graceful:
        result.message += (
            f" (ungraceful: {req.source_region}'s copy of the parameter was not touched; set it on failback)"
        )
    return result


def run(req: StepRequest) -> StepResult:
    return switch(req)
