"""What AWS does that ministack forgives, on the emulated world: operations under way, a peer that is down."""

from __future__ import annotations

import boto3
import pytest

from failover_controller.changes import point_dns
from failover_controller.clients import ClientFactory
from failover_controller.errors import PreconditionFailed, StepFailed
from failover_controller.plan import RecoveryPlan
from failover_controller.reads import route53
from failover_controller.steps import compensate, flip_dns, preflight, promote_aurora
from failoverctl.drill import world
from tests.support import aws_like
from tests.support.requests import request

pytestmark = pytest.mark.emulator

ACTS = {"SwitchoverGlobalCluster", "FailoverGlobalCluster"}


def hooked() -> tuple[boto3.Session, ClientFactory]:
    """A factory of its own (the shared one must stay unhooked), on the same emulators (from the environment)."""
    session = boto3.Session()
    return session, ClientFactory(session=session)


@pytest.mark.parametrize("status", ["pending", "switching-over", "failing-over", "cancelling"])
def test_an_operation_under_way_is_never_doubled(app: RecoveryPlan, emulated: ClientFactory, status: str) -> None:
    session, f = hooked()
    target = emulated.rds("us-west-2").describe_db_clusters(DBClusterIdentifier="recsys-metadata-usw2")["DBClusters"][
        0
    ]["DBClusterArn"]
    aws_like.global_cluster_operation(
        session,
        {"Status": status, "FromDbClusterArn": target.replace("us-west-2", "us-east-1"), "ToDbClusterArn": target},
    )
    calls = aws_like.record_calls(session)
    for mode in ("graceful", "ungraceful"):
        try:
            result = promote_aurora.run(request(app, f, "promote", mode=mode))
        except PreconditionFailed as exc:
            assert status == "cancelling"
            assert "being cancelled" in exc.message
        else:
            assert (result.done, result.changed, result.actions) == (False, False, [])
            assert f"already under way ({status})" in result.message
    assert not [c for c in calls if c[2] in ACTS]
    assert world.aurora_writer_region(app, emulated, "us-west-2") == "us-east-1"


def test_an_operation_toward_another_cluster_is_refused(app: RecoveryPlan, emulated: ClientFactory) -> None:
    session, f = hooked()
    other = "arn:aws:rds:eu-west-1:123456789012:cluster:recsys-metadata-euw1"
    aws_like.global_cluster_operation(session, {"Status": "pending", "ToDbClusterArn": other})
    calls = aws_like.record_calls(session)
    with pytest.raises(PreconditionFailed, match=r"toward .*recsys-metadata-euw1 is under way \(pending\)"):
        promote_aurora.run(request(app, f, "promote"))
    assert not [c for c in calls if c[2] in ACTS]


def test_a_cancelled_promotion_fails_the_poll_at_once(app: RecoveryPlan, emulated: ClientFactory) -> None:
    # The poll runs only after a promotion started; the writer still in us-east-1 with nothing under way means
    # it was cancelled. Polling on to the deadline would hide that for the whole RTO.
    with pytest.raises(StepFailed, match="cancelled or failed"):
        promote_aurora.run(request(app, emulated, "status"))


def test_compensation_reads_the_writer_in_its_own_region_only(app: RecoveryPlan, emulated: ClientFactory) -> None:
    # DNS was flipped to us-west-2, but the database stayed in us-east-1 (the promotion failed): compensation must
    # send DNS back to us-east-1 without calling us-east-1's RDS (its role may not, and the region may be down).
    session, f = hooked()
    world_dns = emulated.route53("us-west-2")
    batch = route53.changes_toward(request(app, emulated, "flip"))
    world_dns.change_resource_record_sets(
        HostedZoneId=app.hosted_zone_id,
        ChangeBatch={"Changes": batch},  # type: ignore[typeddict-item]
    )
    assert world.dns_routing(app, emulated)["api.recsys.example.com."] == {"us-east-1": 0, "us-west-2": 100}
    aws_like.unreachable(session, "us-east-1", ("rds",))
    calls = aws_like.record_calls(session)
    result = compensate.run(request(app, f, "align", mode="ungraceful"))
    assert result.after == {"writer_region": "us-east-1", "needs_attention": []}
    assert world.dns_routing(app, emulated)["api.recsys.example.com."] == {"us-east-1": 100, "us-west-2": 0}
    assert not [c for c in calls if c[0] == "us-east-1" and c[1] == "rds"]


def test_dns_toward_the_peer_is_refused_while_the_writer_is_here(app: RecoveryPlan, emulated: ClientFactory) -> None:
    promote_aurora.run(request(app, emulated, "promote"))
    flip_dns.run(request(app, emulated, "flip"))
    with pytest.raises(PreconditionFailed, match="the Aurora writer is in us-west-2, not us-east-1"):
        point_dns(request(app, emulated, "flip"), "us-east-1", request(app, emulated, "flip").result("flip_dns"))


def test_graceful_preflight_reads_the_lag_aurora_publishes(app: RecoveryPlan, emulated: ClientFactory) -> None:
    # ministack matches dimension sets exactly, as CloudWatch does; the world publishes under SourceRegion.
    result = preflight.run(request(app, emulated, "check"))
    lag = next(c for c in result.checks if c.name == "aurora.replication_lag_ms")
    assert (lag.verdict, lag.observed) == ("pass", 120.0)
    assert "AuroraGlobalDBRPOLag {DBClusterIdentifier=recsys-metadata-usw2, SourceRegion=us-east-1}" in lag.resource
