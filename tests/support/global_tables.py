"""DynamoDB global tables as DescribeTable shows them in each region: the table's status there and its replicas.

moto has no replicas. This answers DescribeTable for the plan's tables through botocore's before-call hook, so a
test can put a replica in any state (CREATING, UPDATING, gone) and the code under test reads it as from AWS.
Tables it does not know (the controller's ledger) are left to moto.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3

from tests.support.aurora_world import ACCOUNT, _fault
from tests.support.aws_like import _answer


@dataclass
class GlobalTables:
    """``status[table][region]``: the table's TableStatus in that region; a region absent has no replica."""

    status: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def of_plan(cls, plan: Any) -> GlobalTables:
        return cls({t: dict.fromkeys(plan.regions, "ACTIVE") for t in plan.dynamodb_tables})

    def install(self, session: boto3.Session) -> None:
        session.events.register("before-parameter-build.dynamodb.DescribeTable", self._remember)
        session.events.register("before-call.dynamodb.DescribeTable", self._answer)

    def _remember(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["global_tables_name"] = params.get("TableName")

    def _answer(self, context: dict[str, Any], **_: Any) -> Any:
        name, region = context.get("global_tables_name"), context["client_region"]
        if name not in self.status:
            return None  # not a table of the plan (the ledger, say): moto answers
        regions = self.status[name]
        if region not in regions:
            return _fault("ResourceNotFoundException", f"Requested resource not found: Table: {name} not found")
        table = {
            "TableName": name,
            "TableArn": f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}",
            "TableStatus": regions[region],
            "Replicas": [{"RegionName": r, "ReplicaStatus": s} for r, s in regions.items() if r != region],
        }
        return _answer({"Table": table})
