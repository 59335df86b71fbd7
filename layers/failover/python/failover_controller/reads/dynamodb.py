"""DynamoDB: a global table as its target-region replica sees it."""

from __future__ import annotations

from typing import Any

from failover_controller.aws import call
from failover_controller.reads import Scope


def table_replica(scope: Scope, table: str) -> dict[str, Any]:
    """The table's status in the target region and the regions it replicates with."""
    region = scope.target_region
    desc = call(f"DynamoDB table {table} in {region}", scope.clients.dynamodb(region).describe_table, TableName=table)[
        "Table"
    ]
    replicas = {r["RegionName"]: r.get("ReplicaStatus") for r in desc.get("Replicas", [])}
    return {"table_status": desc.get("TableStatus"), "replicas": replicas}
