"""Data-plane DNS on the emulators: the steps claim or withdraw their region's traffic (CloudWatch in that region
only), Route 53's health checks follow the claim alarm, and where traffic goes is asked of the zone's name server
(the drill's Route 53 DNS, judged as Route 53 judges)."""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from failover_controller.changes import claim_datum
from failover_controller.checks import route53 as route53_checks
from failover_controller.clients import ClientFactory
from failover_controller.errors import PreconditionFailed, StepFailed
from failover_controller.names import CLAIM_NAMESPACE, claim_alarm_name
from failover_controller.plan import RecoveryPlan
from failover_controller.reads import cloudwatch, dns
from failover_controller.steps import compensate, flip_dns, promote_aurora, verify
from failoverctl import dns as dns_setup
from failoverctl.drill import emulators, world
from failoverctl.drill.emulators import free_port
from failoverctl.drill.route53_dns import GEOGRAPHY, DnsServer, World, serve
from failoverctl.operate import CommandError
from tests.support.events import data_plane_plan_doc
from tests.support.requests import request

pytestmark = pytest.mark.emulator


@pytest.fixture
def dns_server(emulator_pair: emulators.Emulators) -> Iterator[DnsServer]:
    server = serve(free_port(), World(emulator_pair.ministack_url), interval_s=0.05)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def plan(emulated: ClientFactory, dns_server: DnsServer) -> RecoveryPlan:
    app = world.build(data_plane_plan_doc(), emulated, name_servers=[dns_server.address])
    for region in app.regions:
        world.create_claim_alarm(app, emulated, region)
    return app


def switch_writer(plan: RecoveryPlan, f: ClientFactory, to: str) -> None:
    f.rds(to).switchover_global_cluster(
        GlobalClusterIdentifier=plan.global_cluster_id, TargetDbClusterIdentifier=plan.aurora_clusters[to]
    )


def answered(plan: RecoveryPlan) -> set[str | None]:
    return {d["region"] for d in dns.served_from(plan).values()}


def until(condition: Callable[[], bool]) -> None:
    """DNS follows a claim after the health check's interval (the drill's DNS server judges every 0.05 s)."""
    for _ in range(300):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("DNS never followed")


def until_answered(plan: RecoveryPlan, region: str, f: ClientFactory) -> None:
    """The runbook's poll loop: FlipDns's status until DNS answers with ``region``."""
    for _ in range(100):
        if flip_dns.run(request(plan, f, "status", target=region)).done:
            return
        time.sleep(0.05)
    raise AssertionError(f"DNS never answered with {region}: {dns.served_from(plan)}")


def claims(plan: RecoveryPlan, f: ClientFactory, wanted: dict[str, bool]) -> None:
    """Wait until the claim alarms read ``wanted``: the drill's CloudWatch evaluates them per period (here, with no
    time scale, as each datapoint arrives), a moment after the emulator answers PutMetricData."""
    until(lambda: {r: cloudwatch.traffic_claim(plan, f, r)["claimed"] for r in wanted} == wanted)


def claim_as_a_failback_left_it(plan: RecoveryPlan, f: ClientFactory) -> None:
    """The primary's claim, made the way FlipDns makes it (an ungraceful failback into the primary claims there)."""
    f.client("cloudwatch", "us-east-1").put_metric_data(
        Namespace=CLAIM_NAMESPACE, MetricData=[claim_datum(plan.application, float(int(time.time())))]
    )
    claims(plan, f, {"us-east-1": True})


def release_args(plan: RecoveryPlan, pair: emulators.Emulators, tmp_path: Path, region: str) -> argparse.Namespace:
    """`failoverctl dns release PLAN --region REGION` against the emulators, as its parser makes it."""
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan.document), encoding="utf-8")
    return argparse.Namespace(
        plan=str(path), region=region, local=False, endpoint_url=pair.front, sagemaker_endpoint_url=None, force=False
    )


def converge(plan: RecoveryPlan, f: ClientFactory, target: str, mode: str = "graceful") -> list[tuple[str, str]]:
    """FlipDns's act, then its poll until done, as the state machine runs them; the claims each call published."""
    published = []
    for action in ["flip"] + ["status"] * 200:
        result = flip_dns.run(request(plan, f, action, target=target, mode=mode))  # type: ignore[arg-type]
        published += [(a.region, str(a.params["MetricData"][0]["Value"] != 0)) for a in result.actions if a.performed]
        if result.done:
            return published
        time.sleep(0.05)
    raise AssertionError(f"FlipDns into {target} never finished: {result.message}; {dns.served_from(plan)}")


def test_a_claim_moves_the_answers_and_running_again_claims_nothing(
    plan: RecoveryPlan, emulated: ClientFactory
) -> None:
    assert answered(plan) == {"us-east-1"}
    switch_writer(plan, emulated, "us-west-2")
    first = flip_dns.run(request(plan, emulated, "flip"))
    assert first.changed
    assert [(a.api, a.region, a.performed) for a in first.actions] == [("cloudwatch:PutMetricData", "us-west-2", True)]
    assert not first.done, "a claim is confirmed by its alarm, and DNS asked only after"
    claims(plan, emulated, {"us-west-2": True, "us-east-1": False})
    until_answered(plan, "us-west-2", emulated)
    assert answered(plan) == {"us-west-2"}
    again = flip_dns.run(request(plan, emulated, "flip"))
    assert (again.changed, again.actions, again.done) == (False, [], True)
    assert verify._dns_check(request(plan, emulated, "check")).verdict == "pass"


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_no_claim_while_the_writer_is_elsewhere(plan: RecoveryPlan, emulated: ClientFactory, mode: str) -> None:
    with pytest.raises(PreconditionFailed, match="writer"):
        flip_dns.run(request(plan, emulated, "flip", mode=mode))  # type: ignore[arg-type]
    assert not cloudwatch.traffic_claim(plan, emulated, "us-west-2")["claimed"]
    assert answered(plan) == {"us-east-1"}


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_a_dry_run_claims_nothing(plan: RecoveryPlan, emulated: ClientFactory, mode: str) -> None:
    result = flip_dns.run(request(plan, emulated, "flip", dry_run=True, mode=mode))  # type: ignore[arg-type]
    assert [(a.api, a.region, a.performed) for a in result.actions] == [
        ("cloudwatch:PutMetricData", "us-west-2", False)
    ]
    assert result.done, "nothing changed, nothing to wait for"
    claims(plan, emulated, {"us-west-2": False})


@pytest.mark.parametrize(("mode", "planned"), [("graceful", "us-west-2"), ("ungraceful", "us-east-1")])
def test_a_dry_run_failback_withdraws_nothing(
    plan: RecoveryPlan, emulated: ClientFactory, mode: str, planned: str
) -> None:
    """Graceful: it would withdraw the standby's claim; ungraceful: it would claim in the primary. Neither happens."""
    switch_writer(plan, emulated, "us-west-2")
    converge(plan, emulated, "us-west-2")
    switch_writer(plan, emulated, "us-east-1")
    result = flip_dns.run(request(plan, emulated, "flip", target="us-east-1", dry_run=True, mode=mode))  # type: ignore[arg-type]
    assert [(a.region, a.performed) for a in result.actions] == [(planned, False)]
    time.sleep(0.5)
    claims(plan, emulated, {"us-west-2": True, "us-east-1": False})
    assert answered(plan) == {"us-west-2"}


def test_a_graceful_failback_withdraws_the_standbys_claim_and_leaves_nobody_claiming(
    plan: RecoveryPlan, emulated: ClientFactory
) -> None:
    """A graceful run into the primary claims nothing: it withdraws the standby's claim in the standby (reachable
    then), so that after a failback no region claims, and the standby's next failover moves DNS."""
    switch_writer(plan, emulated, "us-west-2")
    assert converge(plan, emulated, "us-west-2")[0] == ("us-west-2", "True")
    switch_writer(plan, emulated, "us-east-1")
    published = converge(plan, emulated, "us-east-1")
    assert set(published) == {("us-west-2", "False")}, "only the standby's claim is withdrawn, in the standby"
    claims(plan, emulated, {"us-east-1": False, "us-west-2": False})
    assert answered(plan) == {"us-east-1"}
    again = flip_dns.run(request(plan, emulated, "flip", target="us-east-1"))
    assert (again.changed, again.actions, again.done) == (False, [], True)
    # So the standby's next failover moves DNS.
    switch_writer(plan, emulated, "us-west-2")
    converge(plan, emulated, "us-west-2")
    assert answered(plan) == {"us-west-2"}


def test_an_ungraceful_failback_claims_in_the_primary_without_calling_the_standby(
    plan: RecoveryPlan, emulated: ClientFactory
) -> None:
    """With the standby unreachable, its claim cannot be withdrawn: the primary claims too, and both claiming answers
    weighted records by weight (Route 53 treats all as healthy when none is), the primary's."""
    switch_writer(plan, emulated, "us-west-2")
    converge(plan, emulated, "us-west-2")
    switch_writer(plan, emulated, "us-east-1")
    published = converge(plan, emulated, "us-east-1", mode="ungraceful")
    assert set(published) == {("us-east-1", "True")}
    claims(plan, emulated, {"us-east-1": True, "us-west-2": True})
    assert answered(plan) == {"us-east-1"}


def test_waiting_for_dns_stops_when_the_writer_moves_away(plan: RecoveryPlan, emulated: ClientFactory) -> None:
    """Another controller fails the database back while this run waits for DNS: the wait ends with why, rather than
    lasting until the run's deadline (both regions claim, so DNS keeps answering with the primary)."""
    claim_as_a_failback_left_it(plan, emulated)
    switch_writer(plan, emulated, "us-west-2")
    flip_dns.run(request(plan, emulated, "flip"))
    claims(plan, emulated, {"us-west-2": True})
    waiting = flip_dns.run(request(plan, emulated, "status"))
    assert (waiting.done, waiting.actions) == (False, [])
    assert "waiting for DNS to answer with us-west-2" in waiting.message
    switch_writer(plan, emulated, "us-east-1")
    with pytest.raises(StepFailed) as e:
        flip_dns.run(request(plan, emulated, "status"))
    assert str(e.value) == (
        "while this run waited for DNS to answer with us-west-2: DNS must follow the database: the Aurora writer is "
        "in us-east-1, not us-west-2; refusing to send DNS to a region whose database is read-only"
    )


def test_compensation_withdraws_the_claim_when_the_writer_went_back(
    plan: RecoveryPlan, emulated: ClientFactory
) -> None:
    switch_writer(plan, emulated, "us-west-2")
    flip_dns.run(request(plan, emulated, "flip"))
    until_answered(plan, "us-west-2", emulated)
    switch_writer(plan, emulated, "us-east-1")
    result = compensate.run(request(plan, emulated, "align"))
    assert ("cloudwatch:PutMetricData", "us-west-2") in [(a.api, a.region) for a in result.actions]
    claims(plan, emulated, {"us-west-2": False})  # a withdrawal wins its period (the alarm's Minimum)
    until(lambda: answered(plan) == {"us-east-1"})


def test_without_its_claim_alarm_a_region_cannot_claim_and_preflight_says_why(
    plan: RecoveryPlan, emulated: ClientFactory
) -> None:
    emulated.cloudwatch("us-west-2").delete_alarms(AlarmNames=[claim_alarm_name(plan.application)])
    checks = {c.name: c for c in route53_checks.checks(request(plan, emulated, "check"))}
    assert checks["dns.claim_alarm"].verdict == "fail"
    assert "deploy the controller's stack in this region" in checks["dns.claim_alarm"].detail
    assert checks["dns.answers"].verdict == "pass"
    switch_writer(plan, emulated, "us-west-2")
    with pytest.raises(
        PreconditionFailed, match="failover-controller-recsys-traffic-claim does not exist in us-west-2"
    ):
        flip_dns.run(request(plan, emulated, "flip"))
    assert answered(plan) == {"us-east-1"}


def test_preflight_asks_dns_and_calls_no_route53_api(
    plan: RecoveryPlan, emulated: ClientFactory, dns_server: DnsServer
) -> None:
    checks = route53_checks.checks(request(plan, emulated, "check"))
    assert [(c.name, c.verdict, c.observed) for c in checks] == [
        ("dns.claim_alarm", "pass", "INSUFFICIENT_DATA"),
        ("dns.answers", "pass", "us-east-1"),
        ("dns.answers", "pass", "us-east-1"),
        ("dns.primary_claim", "pass", "INSUFFICIENT_DATA"),
    ]
    dns_server.shutdown()
    dns_server.server_close()
    silent = route53_checks.checks(request(plan, emulated, "check"))
    assert [c.verdict for c in silent if c.name == "dns.answers"] == ["unknown", "unknown"]
    assert all("no name server of" in c.detail for c in silent if c.name == "dns.answers")


def test_a_claim_the_primary_kept_after_a_failback_blocks_the_standby_until_released(
    plan: RecoveryPlan, emulated: ClientFactory, emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    # The writer is home and the primary's controller claimed, as a failback from a claiming standby leaves it.
    claim_as_a_failback_left_it(plan, emulated)
    checks = {c.name: c for c in route53_checks.checks(request(plan, emulated, "check"))}
    assert checks["dns.primary_claim"].verdict == "fail"
    assert "failoverctl dns release PLAN --region us-east-1" in checks["dns.primary_claim"].detail
    # Ungraceful: the primary is not asked; DNS tells its claim (the probe record follows its health check).
    until(lambda: dns.primary_claim(plan) is True)
    ungraceful = {c.name: c for c in route53_checks.checks(request(plan, emulated, "check", mode="ungraceful"))}
    assert (ungraceful["dns.primary_claim"].verdict, ungraceful["dns.primary_claim"].observed) == ("fail", "claimed")
    assert "_primary-claim.api.recsys.example.com. answers claimed" in ungraceful["dns.primary_claim"].detail
    # Nor does Aurora move: a promotion would leave the traffic on a read-only database.
    writer = world.snapshot(plan, emulated)["aurora_writer"]
    with pytest.raises(PreconditionFailed, match="not promoting: us-east-1 claims the traffic"):
        promote_aurora.run(request(plan, emulated, "promote", mode="ungraceful"))
    assert world.snapshot(plan, emulated)["aurora_writer"] == writer == "us-east-1"
    args = release_args(plan, emulator_pair, tmp_path, "us-east-1")
    out = io.StringIO()
    assert dns_setup.release(args, out) == 0
    assert "withdrew us-east-1's claim" in out.getvalue()
    claims(plan, emulated, {"us-east-1": False})
    checks = {c.name: c for c in route53_checks.checks(request(plan, emulated, "check"))}
    assert checks["dns.primary_claim"].verdict == "pass"
    until(lambda: dns.primary_claim(plan) is False)
    ungraceful = {c.name: c for c in route53_checks.checks(request(plan, emulated, "check", mode="ungraceful"))}
    assert (ungraceful["dns.primary_claim"].verdict, ungraceful["dns.primary_claim"].observed) == ("pass", "free")
    again = io.StringIO()
    assert dns_setup.release(args, again) == 0
    assert "does not claim" in again.getvalue()


def test_a_release_that_would_send_users_to_a_read_only_database_is_refused_unless_forced(
    plan: RecoveryPlan, emulated: ClientFactory, emulator_pair: emulators.Emulators, tmp_path: Path
) -> None:
    switch_writer(plan, emulated, "us-west-2")
    converge(plan, emulated, "us-west-2")
    args = release_args(plan, emulator_pair, tmp_path, "us-west-2")
    with pytest.raises(CommandError, match=r"traffic to us-east-1 .* writer is in us-west-2: users would reach a read"):
        dns_setup.release(args, io.StringIO())
    claims(plan, emulated, {"us-west-2": True})
    assert answered(plan) == {"us-west-2"}
    forced = io.StringIO()
    assert dns_setup.release(argparse.Namespace(**(vars(args) | {"force": True})), forced) == 0
    assert "forced: withdrawing us-west-2's claim sends" in forced.getvalue()
    claims(plan, emulated, {"us-west-2": False})


def test_dns_setup_updates_a_check_that_copied_an_old_alarm_in_place_keeping_a_standing_claim(
    plan: RecoveryPlan, emulated: ClientFactory
) -> None:
    """Route 53 keeps the alarm's settings copied when the check was made ("you need to update the health check"
    after changing the alarm). A check made against the 10-second alarm of earlier versions never follows the claim,
    even after the stack's alarm is 60 s; `dns setup --apply` updates it in place: same id, status kept."""
    r53 = emulated.route53("us-east-1")
    checks = dns_setup.claim_checks(plan, emulated, apply=False)
    emulated.cloudwatch("us-west-2").put_metric_alarm(
        AlarmName=claim_alarm_name(plan.application),
        Namespace=CLAIM_NAMESPACE,
        MetricName="TrafficClaim",
        Dimensions=[{"Name": "Application", "Value": plan.application}],
        Statistic="Maximum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    version = r53.get_health_check(HealthCheckId=checks["us-west-2"])["HealthCheck"]["HealthCheckVersion"]
    r53.update_health_check(
        HealthCheckId=checks["us-west-2"],
        HealthCheckVersion=version,
        AlarmIdentifier={"Region": "us-west-2", "Name": claim_alarm_name(plan.application)},
    )
    time.sleep(0.3)  # the checkers copy the 10-second alarm
    world.create_claim_alarm(plan, emulated, "us-west-2")  # the stack's alarm now: 60 s
    switch_writer(plan, emulated, "us-west-2")
    flip_dns.run(request(plan, emulated, "flip"))
    claims(plan, emulated, {"us-west-2": True})
    time.sleep(0.5)
    assert answered(plan) == {"us-east-1"}, "the check judges by its 10-second copy, which Route 53 cannot follow"
    done = dns_setup.setup(plan, emulated, apply=True)
    assert done["health_checks"] == checks, "updated in place: the records keep their checks"
    assert "us-west-2" in done["updated"]
    assert done["reasserted"] == ["us-west-2"], "the standing claim, published again for the updated check"
    until(lambda: answered(plan) == {"us-west-2"})
    again = dns_setup.setup(plan, emulated, apply=True)
    assert again["health_checks"] == checks
    time.sleep(0.5)
    assert answered(plan) == {"us-west-2"}, "the standing claim is not forgotten"


@pytest.fixture
def latency_plan(emulated: ClientFactory, dns_server: DnsServer) -> RecoveryPlan:
    doc = data_plane_plan_doc()
    doc["route53"]["routing_policy"] = "latency"
    doc["route53"]["client_subnets"] = {r: GEOGRAPHY[r] for r in ("us-east-1", "us-west-2")}
    app = world.build(doc, emulated, name_servers=[dns_server.address])
    for region in app.regions:
        world.create_claim_alarm(app, emulated, region)
    return app


def test_latency_records_are_read_for_each_regions_clients_so_asking_from_the_target_cannot_fool_the_wait(
    latency_plan: RecoveryPlan, emulated: ClientFactory, dns_server: DnsServer
) -> None:
    """Nobody claiming answers each client with its nearest region. A controller in us-west-2 asking for itself would
    read us-west-2 at once, claim or no claim; asked for each region's clients, DNS is done only when all of them are
    answered with the target."""
    plan = latency_plan
    dns_server.world.near = "us-west-2"  # the name server sees the controller's queries coming from us-west-2
    seen = dns.served_from(plan)
    assert {d["region"] for d in seen.values()} == {None}
    assert all(d["by_client"] == {"us-east-1": "us-east-1", "us-west-2": "us-west-2"} for d in seen.values())
    switch_writer(plan, emulated, "us-west-2")
    first = flip_dns.run(request(plan, emulated, "flip"))
    assert not first.done
    converge(plan, emulated, "us-west-2")
    assert {d["region"] for d in dns.served_from(plan).values()} == {"us-west-2"}
    assert verify._dns_check(request(plan, emulated, "check")).verdict == "pass"
    # A graceful failback leaves nobody claiming: each client its nearest region again.
    switch_writer(plan, emulated, "us-east-1")
    assert set(converge(plan, emulated, "us-east-1")) == {("us-west-2", "False")}
    until(lambda: {d["region"] for d in dns.served_from(plan).values()} == {None})


def test_a_name_server_that_does_not_answer_delays_the_confirmation_not_the_claim(
    plan: RecoveryPlan, emulated: ClientFactory, dns_server: DnsServer
) -> None:
    dns_server.shutdown()
    dns_server.server_close()
    switch_writer(plan, emulated, "us-west-2")
    first = flip_dns.run(request(plan, emulated, "flip"))
    assert [(a.region, a.performed) for a in first.actions] == [("us-west-2", True)], "claimed without asking DNS"
    claims(plan, emulated, {"us-west-2": True})
    waiting = flip_dns.run(request(plan, emulated, "status"))
    assert (waiting.done, waiting.actions) == (False, [])
    assert "waiting for DNS to answer with us-west-2 no name server of" in waiting.message
