"""The controller's own table: the single-flight lock, the run ledger, the last run (for cooldown),
and pending approvals. One partition per plan: ``pk = PLAN#<application>``.

| sk                          | what                                                       |
| --------------------------- | ---------------------------------------------------------- |
| ``LOCK``                    | owner (execution name), acquired_at, expires_at (TTL)      |
| ``LAST_RUN``                | the last run that changed or tried to change the world     |
| ``RUN#<started>#<name>``    | one run: trigger, mode, outcome, steps, error              |
| ``APPROVAL#<name>``         | the task token a person answers to approve or reject       |
| ``PREWARM``                 | the standby warming on suspicion: since, until, counts     |
| ``PREWARM#<at>``            | one ended pre-warm: how it ended, its extra instance-hours |
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from failover_controller.aws import call, error_code, mapped
from failover_controller.clients import ClientFactory
from failover_controller.errors import TransientAwsError

BATCH_GET_ATTEMPTS = 3
_SER = TypeSerializer()
_DESER = TypeDeserializer()


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    def clean(v: Any) -> Any:
        if isinstance(v, float):
            return Decimal(str(v))
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return {k: _SER.serialize(clean(v)) for k, v in values.items() if v is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else float(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    return {k: plain(_DESER.deserialize(v)) for k, v in item.items()}


def plan_key(application: str) -> str:
    return f"PLAN#{application}"


@dataclass(frozen=True)
class Lock:
    acquired: bool
    owner: str
    expires_at: int


class Ledger:
    def __init__(self, table: str, region: str, factory: ClientFactory) -> None:
        self.table = table
        self.region = region
        self.factory = factory

    @property
    def _ddb(self) -> Any:
        return self.factory.dynamodb(self.region)

    def acquire_lock(self, application: str, owner: str, ttl_seconds: int, now: float | None = None) -> Lock:
        """Take the plan's lock for ``owner``, or report who holds it.

        Taking it again as the same owner succeeds (a retried Detect for the same event); an expired lock
        (a controller that died holding it) is taken over.
        """
        now = time.time() if now is None else now
        expires = int(now) + ttl_seconds
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item=_to_item(
                    {
                        "pk": plan_key(application),
                        "sk": "LOCK",
                        "owner": owner,
                        "acquired_at": int(now),
                        "expires_at": expires,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR #o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues=_to_item({":now": int(now), ":owner": owner}),
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise mapped("ledger lock", exc) from exc
            held = self.get(application, "LOCK") or {}
            return Lock(acquired=False, owner=str(held.get("owner", "?")), expires_at=int(held.get("expires_at", 0)))
        return Lock(acquired=True, owner=owner, expires_at=expires)

    def release_lock(self, application: str, owner: str) -> bool:
        """Release the lock if ``owner`` holds it; False when someone else does (or nobody)."""
        try:
            self._ddb.delete_item(
                TableName=self.table,
                Key=_to_item({"pk": plan_key(application), "sk": "LOCK"}),
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues=_to_item({":owner": owner}),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise mapped("ledger lock release", exc) from exc
        return True

    def get(self, application: str, sk: str) -> dict[str, Any] | None:
        item = call(
            f"ledger {application} {sk}",
            self._ddb.get_item,
            TableName=self.table,
            Key=_to_item({"pk": plan_key(application), "sk": sk}),
            ConsistentRead=True,
        ).get("Item")
        return _from_item(item) if item else None

    def get_many(self, application: str, sks: list[str]) -> dict[str, dict[str, Any]]:
        """Several items of the plan's partition in consistent reads, by sk.

        BatchGetItem may leave keys unprocessed (throttling): those are asked again, and a key still unprocessed
        after the last attempt is an error, never an item that does not exist (a missed LAST_RUN would skip the
        cooldown)."""
        request = {
            self.table: {
                "Keys": [_to_item({"pk": plan_key(application), "sk": sk}) for sk in sks],
                "ConsistentRead": True,
            }
        }
        items: list[dict[str, Any]] = []
        for _ in range(BATCH_GET_ATTEMPTS):
            response = call(f"ledger {application} {', '.join(sks)}", self._ddb.batch_get_item, RequestItems=request)
            items += [_from_item(i) for i in response.get("Responses", {}).get(self.table, [])]
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return {str(i["sk"]): i for i in items}
        raise TransientAwsError(
            f"ledger {application} {', '.join(sks)}: keys still unprocessed after {BATCH_GET_ATTEMPTS} attempts"
        )

    def put(self, application: str, sk: str, values: dict[str, Any]) -> None:
        call(
            f"ledger {application} {sk}",
            self._ddb.put_item,
            TableName=self.table,
            Item=_to_item({**values, "pk": plan_key(application), "sk": sk}),  # an item read back keeps its new key
        )

    def create(self, application: str, sk: str, values: dict[str, Any]) -> bool:
        """Put the item unless it exists; False when it does (someone else made it first)."""
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item=_to_item({**values, "pk": plan_key(application), "sk": sk}),  # an item read back keeps its new key
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise mapped(f"ledger {application} {sk}", exc) from exc
        return True

    def delete(self, application: str, sk: str) -> None:
        call(
            f"ledger {application} {sk}",
            self._ddb.delete_item,
            TableName=self.table,
            Key=_to_item({"pk": plan_key(application), "sk": sk}),
        )

    def runs(self, application: str, limit: int = 20) -> list[dict[str, Any]]:
        """The plan's most recent runs, newest first."""
        return self.items(application, "RUN#", limit)

    def items(self, application: str, prefix: str, limit: int = 20) -> list[dict[str, Any]]:
        """The plan's items whose sk begins with ``prefix``, newest (greatest sk) first."""
        page = call(
            f"ledger {prefix}* of {application}",
            self._ddb.query,
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=_to_item({":pk": plan_key(application), ":prefix": prefix}),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_from_item(i) for i in page.get("Items", [])]
