"""An Aurora global database in-process, answering the RDS calls the controller makes as RDS does.

moto has no SwitchoverGlobalCluster or FailoverGlobalCluster, and ministack finishes them at once; neither shows
the states where a promotion's bugs live (an operation pending or under way, one being cancelled, a target that is
not available). This world answers DescribeDBClusters, DescribeGlobalClusters, SwitchoverGlobalCluster and
FailoverGlobalCluster through botocore's before-call hook, so the code under test makes real boto3 calls. An
accepted promotion stays under way until the test calls :meth:`GlobalDatabase.finish`, as on AWS where it takes
minutes. The writer, the operation under way and every promotion accepted are the world's state to assert on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

ACCOUNT = "123456789012"


def _reply(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    return AWSResponse("https://rds.aws-like.invalid/", status, {}, None), parsed  # type: ignore[arg-type]


def _fault(code: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    status = 404 if code.endswith("NotFoundFault") else 400
    return _reply(status, {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {}})


@dataclass
class Cluster:
    identifier: str
    region: str
    status: str = "available"
    engine: str = "aurora-postgresql"

    @property
    def arn(self) -> str:
        return f"arn:aws:rds:{self.region}:{ACCOUNT}:cluster:{self.identifier}"


@dataclass
class Promotion:
    """An accepted switchover or failover: where it goes, and whether it may lose data."""

    api: str
    to_arn: str
    from_arn: str
    data_loss_allowed: bool
    status: str = "pending"


@dataclass
class GlobalDatabase:
    identifier: str
    clusters: dict[str, Cluster]
    writer_region: str | None  # None: no member is the writer (a failover that lost it)
    status: str = "available"
    under_way: Promotion | None = None
    promotions: list[Promotion] = field(default_factory=list)
    detached: set[str] = field(default_factory=set)  # regions whose cluster is not (or no longer) a member
    instant: bool = False  # promotions complete as they are accepted (as in ministack)
    refuse_next: tuple[str, str] | None = None  # the next promotion fails with this (code, message)
    ignore_next: bool = False  # the next promotion is accepted and then nothing happens
    sync_status: str | None = "connected"  # the secondaries' SynchronizationStatus (None: not reported)

    @classmethod
    def of_plan(cls, plan: Any, engine: str = "aurora-postgresql") -> GlobalDatabase:
        clusters = {r: Cluster(plan.aurora_clusters[r], r, engine=engine) for r in plan.regions}
        return cls(plan.global_cluster_id, clusters, writer_region=plan.primary_region)

    def install(self, session: boto3.Session) -> None:
        """Answer the session's RDS calls (register before building clients: they copy the session's handlers)."""
        session.events.register("before-parameter-build.rds", self._remember)
        session.events.register("before-call.rds", self._answer)

    # The world's state, for tests to set and assert on.

    def start(self, api: str, to_region: str, status: str = "switching-over") -> None:
        """An operation already under way (started by someone else, or by an earlier run that crashed)."""
        to, frm = self.clusters[to_region], self.clusters[self.writer_region or to_region]
        self.under_way = Promotion(api, to.arn, frm.arn, api.endswith("FailoverGlobalCluster"), status)
        self.status = "failing-over" if self.under_way.data_loss_allowed else "switching-over"

    def finish(self) -> None:
        """The operation under way completes: its target is the writer."""
        assert self.under_way is not None, "nothing is under way"
        self.writer_region = next(r for r, c in self.clusters.items() if c.arn == self.under_way.to_arn)
        self.under_way, self.status = None, "available"

    def cancel(self) -> None:
        """The operation under way is rolled back: the writer stays where it was."""
        self.under_way, self.status = None, "available"

    # RDS.

    def _remember(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["aurora_world_params"] = dict(params)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        params = context.get("aurora_world_params", {})
        region = context["client_region"]
        handler = getattr(self, f"_op_{model.name}", None)
        if handler is None:
            raise AssertionError(f"the Aurora world does not answer rds:{model.name}")
        return handler(region, params)

    def _cluster(self, region: str, ident: str) -> Cluster | None:
        """A cluster named by identifier (its own region) or by ARN (any region), as RDS resolves them."""
        for cluster in self.clusters.values():
            if ident == cluster.arn or (ident.lower() == cluster.identifier.lower() and cluster.region == region):
                return cluster
        return None

    def _op_DescribeDBClusters(self, region: str, params: dict[str, Any]) -> Any:
        ident = params.get("DBClusterIdentifier", "")
        cluster = self._cluster(region, ident)
        if cluster is None:
            return _fault("DBClusterNotFoundFault", f"DBCluster {ident} not found.")
        return _reply(
            200,
            {
                "DBClusters": [
                    {
                        "DBClusterIdentifier": cluster.identifier,
                        "DBClusterArn": cluster.arn,
                        "Status": cluster.status,
                        "Engine": cluster.engine,
                    }
                ]
            },
        )

    def _op_DescribeGlobalClusters(self, region: str, params: dict[str, Any]) -> Any:
        ident = params.get("GlobalClusterIdentifier", "")
        if ident.lower() != self.identifier.lower():
            return _fault("GlobalClusterNotFoundFault", f"Global cluster {ident} not found.")
        members = [
            {
                "DBClusterArn": c.arn,
                "IsWriter": r == self.writer_region,
                "Readers": [o.arn for o in self.clusters.values() if o is not c] if r == self.writer_region else [],
                **(
                    {}
                    if r == self.writer_region or self.sync_status is None
                    else {"SynchronizationStatus": self.sync_status}
                ),
            }
            for r, c in self.clusters.items()
            if r not in self.detached
        ]
        gc: dict[str, Any] = {
            "GlobalClusterIdentifier": self.identifier,
            "GlobalClusterArn": f"arn:aws:rds::{ACCOUNT}:global-cluster:{self.identifier}",
            "Status": self.status,
            "Engine": next(iter(self.clusters.values())).engine,
            "GlobalClusterMembers": members,
        }
        if self.under_way:
            w = self.under_way
            gc["FailoverState"] = {
                "Status": w.status,
                "FromDbClusterArn": w.from_arn,
                "ToDbClusterArn": w.to_arn,
                "IsDataLossAllowed": w.data_loss_allowed,
            }
        return _reply(200, {"GlobalClusters": [gc]})

    def _promote(self, api: str, region: str, params: dict[str, Any], data_loss: bool) -> Any:
        ident = params.get("GlobalClusterIdentifier", "")
        if ident.lower() != self.identifier.lower():
            return _fault("GlobalClusterNotFoundFault", f"Global cluster {ident} not found.")
        if self.refuse_next:
            (code, message), self.refuse_next = self.refuse_next, None
            return _fault(code, message)
        target = self._cluster(region, params.get("TargetDbClusterIdentifier", ""))
        if target is None:
            return _fault("DBClusterNotFoundFault", f"DBCluster {params.get('TargetDbClusterIdentifier')} not found.")
        if self.under_way or self.status != "available":
            return _fault("InvalidGlobalClusterStateFault", f"Global cluster {self.identifier} is in {self.status}.")
        if target.region == self.writer_region:
            return _fault("InvalidDBClusterStateFault", f"DB cluster {target.arn} is already the primary cluster.")
        if target.status != "available":
            return _fault("InvalidDBClusterStateFault", f"DB cluster {target.arn} is {target.status}.")
        frm = self.clusters[self.writer_region or target.region]
        promotion = Promotion(api, target.arn, frm.arn, data_loss)
        self.promotions.append(promotion)
        if self.ignore_next:
            self.ignore_next = False
        else:
            self.under_way = promotion
            self.status = "failing-over" if data_loss else "switching-over"
            if self.instant:
                self.finish()
        # The operation's answer holds the global cluster as it began (FailoverState pending), whatever a describe
        # shows next.
        state: dict[str, Any] = {"Status": "pending", "FromDbClusterArn": frm.arn, "ToDbClusterArn": target.arn}
        state["IsDataLossAllowed"] = data_loss
        return _reply(
            200,
            {
                "GlobalCluster": {
                    "GlobalClusterIdentifier": self.identifier,
                    "Status": "available",
                    "FailoverState": state,
                }
            },
        )

    def _op_SwitchoverGlobalCluster(self, region: str, params: dict[str, Any]) -> Any:
        return self._promote("SwitchoverGlobalCluster", region, params, data_loss=False)

    def _op_FailoverGlobalCluster(self, region: str, params: dict[str, Any]) -> Any:
        if params.get("AllowDataLoss") and params.get("Switchover"):
            return _fault("InvalidParameterCombination", "AllowDataLoss can't be specified together with Switchover.")
        return self._promote("FailoverGlobalCluster", region, params, data_loss=bool(params.get("AllowDataLoss")))
