"""Data-plane DNS's claims (changes.claim_dns) on moto: what each call publishes, when it waits, and what it refuses.

CloudWatch's evaluation of the claim alarm is the test's (SetAlarmState: what the alarm reads once its period
ended), DNS's answers are the scripted name server's; the emulator tests (tests/emulator/test_data_plane_dns.py)
follow the same paths through the drill's CloudWatch and Route 53."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dns.rcode as dns_rcode
import pytest

from failover_controller import changes
from failover_controller.clients import ClientFactory
from failover_controller.errors import PreconditionFailed, VerificationFailed
from failover_controller.names import CLAIM_NAMESPACE, claim_alarm_name
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.reads import dns
from failover_controller.steps import verify
from failover_controller.steps.base import Mode
from failoverctl.drill import world
from tests.support.aurora_world import GlobalDatabase
from tests.support.events import data_plane_plan_doc
from tests.support.requests import request
from tests.support.scripted_dns import Script, scripted_dns

API, INFERENCE = "api.recsys.example.com.", "inference.recsys.example.com."


@pytest.fixture
def claims(f: ClientFactory, db: GlobalDatabase) -> Iterator[tuple[RecoveryPlan, Script]]:
    """The sample plan's claim alarms in both regions (nobody claims), its DNS the scripted name server answering
    with the primary, and the Aurora writer in the standby (the database has failed over)."""
    with scripted_dns() as (address, script):
        doc = data_plane_plan_doc()
        doc["route53"]["name_servers"] = [address]
        plan = parse_plan(doc)
        for region in plan.regions:
            world.create_claim_alarm(plan, f, region)
        dns_answers(script, "us-east-1")
        writer_moved(db, "us-west-2")
        yield plan, script


def writer_moved(db: GlobalDatabase, region: str, api: str = "SwitchoverGlobalCluster") -> None:
    """The Aurora writer now in ``region``, by a promotion that completed."""
    db.start(api, region)
    db.finish()


def dns_answers(script: Script, region: str) -> None:
    for name in (API, INFERENCE):
        script.answer(name, "CNAME", [f"{name.split('.')[0]}.{region}.recsys.internal."])


def alarm_reads(plan: RecoveryPlan, f: ClientFactory, region: str, claimed: bool) -> None:
    """The claim alarm in ``region`` as CloudWatch reads it once the claim's period ended."""
    f.cloudwatch(region).set_alarm_state(
        AlarmName=claim_alarm_name(plan.application), StateValue="ALARM" if claimed else "OK", StateReason="test"
    )


def published(result: Any) -> list[tuple[str, bool, bool]]:
    """(region, claims, sent) of each PutMetricData the call planned."""
    return [
        (a.region, a.params["MetricData"][0]["Value"] != 0, a.performed)
        for a in result.actions
        if a.api == "cloudwatch:PutMetricData"
    ]


def claim(plan: RecoveryPlan, f: ClientFactory, target: str, toward: str, **kwargs: Any) -> Any:
    req = request(plan, f, "flip", target=target, **kwargs)
    return changes.point_dns(req, toward, req.result("flip_dns"))


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_a_failover_claims_then_waits_for_the_alarm_then_for_dns(
    claims: tuple[RecoveryPlan, Script], f: ClientFactory, mode: Mode
) -> None:
    plan, script = claims
    first = claim(plan, f, "us-west-2", "us-west-2", mode=mode)
    assert published(first) == [("us-west-2", True, True)]
    assert (first.changed, first.done) == (True, False)
    assert first.message.startswith("published us-west-2's claim (us-west-2 does not claim until its alarm's period")
    assert first.after["dns"] is None, "DNS is asked after the claim, never before it"
    assert script.asked == []
    again = claim(plan, f, "us-west-2", "us-west-2", mode=mode)
    assert published(again) == [("us-west-2", True, True)], "a claim the alarm does not show yet is published again"
    alarm_reads(plan, f, "us-west-2", claimed=True)
    waiting = claim(plan, f, "us-west-2", "us-west-2", mode=mode)
    assert (published(waiting), waiting.changed, waiting.done) == ([], False, False)
    assert (
        waiting.message
        == "the claims toward us-west-2 hold (us-west-2 claims); waiting for DNS to answer with us-west-2"
    )
    dns_answers(script, "us-west-2")
    done = claim(plan, f, "us-west-2", "us-west-2", mode=mode)
    assert (published(done), done.changed, done.done) == ([], False, True)
    assert done.message == "the claims toward us-west-2 hold (us-west-2 claims); DNS answers with us-west-2"
    assert done.before == {"claims": {"us-west-2": True}, "wanted": {"us-west-2": True}}
    assert done.after["dns"][f"{API} CNAME"]["region"] == "us-west-2"


def test_a_dns_that_does_not_answer_delays_the_confirmation_naming_why(
    claims: tuple[RecoveryPlan, Script], f: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dns, "TIMEOUT_S", 0.2)
    plan, script = claims
    alarm_reads(plan, f, "us-west-2", claimed=True)
    script.rcode = dns_rcode.SERVFAIL
    waiting = claim(plan, f, "us-west-2", "us-west-2")
    assert waiting.done is False
    assert waiting.message.startswith("the claims toward us-west-2 hold (us-west-2 claims); waiting for DNS to answer")
    assert "SERVFAIL" in waiting.message
    assert waiting.after["dns"] is None


def test_a_graceful_failback_withdraws_the_standbys_claim_first_then_waits_before_its_own(
    claims: tuple[RecoveryPlan, Script], f: ClientFactory, db: GlobalDatabase
) -> None:
    plan, script = claims
    writer_moved(db, "us-east-1")
    alarm_reads(plan, f, "us-west-2", claimed=True)
    alarm_reads(plan, f, "us-east-1", claimed=True)
    dns_answers(script, "us-west-2")
    first = claim(plan, f, "us-east-1", "us-east-1")
    assert published(first) == [("us-west-2", False, True)], "the standby's claim, withdrawn in the standby"
    assert first.before["wanted"] == {"us-west-2": False, "us-east-1": False}
    assert first.message.startswith("published us-west-2's withdraw")
    alarm_reads(plan, f, "us-west-2", claimed=False)
    waiting = claim(plan, f, "us-east-1", "us-east-1")
    assert published(waiting) == []
    assert waiting.message == "waiting for DNS to answer with us-east-1 before us-east-1's claim changes"
    dns_answers(script, "us-east-1")
    last = claim(plan, f, "us-east-1", "us-east-1")
    assert published(last) == [("us-east-1", False, True)]
    alarm_reads(plan, f, "us-east-1", claimed=False)
    done = claim(plan, f, "us-east-1", "us-east-1")
    assert (done.done, done.message) == (
        True,
        "the claims toward us-east-1 hold (us-west-2 does not claim, us-east-1 does not claim); "
        "DNS answers with us-east-1",
    )


def test_an_ungraceful_failback_claims_in_the_primary_without_the_standby(
    claims: tuple[RecoveryPlan, Script], f: ClientFactory, db: GlobalDatabase
) -> None:
    plan, _ = claims
    writer_moved(db, "us-east-1", "FailoverGlobalCluster")
    result = claim(plan, f, "us-east-1", "us-east-1", mode="ungraceful")
    assert published(result) == [("us-east-1", True, True)]
    assert result.before["wanted"] == {"us-east-1": True}


def test_compensation_toward_the_other_region_withdraws_this_regions_claim(
    claims: tuple[RecoveryPlan, Script], f: ClientFactory, db: GlobalDatabase
) -> None:
    plan, _ = claims
    writer_moved(db, "us-east-1")
    alarm_reads(plan, f, "us-west-2", claimed=True)
    result = claim(plan, f, "us-west-2", "us-east-1")
    assert published(result) == [("us-west-2", False, True)]
    assert changes.expected_answers(request(plan, f, "flip", target="us-west-2"), "us-east-1") == "us-east-1"


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_a_dry_run_plans_the_claim_and_publishes_nothing(
    claims: tuple[RecoveryPlan, Script], f: ClientFactory, mode: Mode
) -> None:
    plan, _ = claims
    result = claim(plan, f, "us-west-2", "us-west-2", mode=mode, dry_run=True)
    assert published(result) == [("us-west-2", True, False)]
    assert (result.changed, result.done, result.message) == (
        False,
        True,
        "dry run: would claim us-west-2's traffic claim",
    )
    assert f.cloudwatch("us-west-2").list_metrics(Namespace=CLAIM_NAMESPACE)["Metrics"] == []


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_no_claim_while_the_database_writes_elsewhere(
    claims: tuple[RecoveryPlan, Script], f: ClientFactory, db: GlobalDatabase, mode: Mode
) -> None:
    plan, _ = claims
    writer_moved(db, "us-east-1")
    with pytest.raises(PreconditionFailed, match="DNS must follow the database: the Aurora writer is in us-east-1"):
        claim(plan, f, "us-west-2", "us-west-2", mode=mode)
    assert f.cloudwatch("us-west-2").list_metrics(Namespace=CLAIM_NAMESPACE)["Metrics"] == []


def test_a_region_without_its_claim_alarm_cannot_claim(claims: tuple[RecoveryPlan, Script], f: ClientFactory) -> None:
    plan, _ = claims
    f.cloudwatch("us-west-2").delete_alarms(AlarmNames=[claim_alarm_name(plan.application)])
    with pytest.raises(PreconditionFailed) as info:
        claim(plan, f, "us-west-2", "us-west-2")
    assert info.value.message == (
        f"the traffic claim alarm {claim_alarm_name(plan.application)} does not exist in us-west-2: deploy the "
        "controller's stack there (docs/dns.md)"
    )


def test_a_claim_alarm_route53_cannot_follow_is_refused(claims: tuple[RecoveryPlan, Script], f: ClientFactory) -> None:
    plan, _ = claims
    alarm: dict[str, Any] = dict(
        f.cloudwatch("us-west-2").describe_alarms(AlarmNames=[claim_alarm_name(plan.application)])["MetricAlarms"][0]
    )
    keep = (
        "AlarmName",
        "Namespace",
        "MetricName",
        "Dimensions",
        "EvaluationPeriods",
        "Threshold",
        "ComparisonOperator",
    )
    f.cloudwatch("us-west-2").put_metric_alarm(**{k: alarm[k] for k in keep}, Period=10, ExtendedStatistic="p99")
    with pytest.raises(PreconditionFailed) as info:
        claim(plan, f, "us-west-2", "us-west-2")
    assert info.value.message.startswith(
        f"Route 53's health checks cannot follow the claim alarm {claim_alarm_name(plan.application)} (us-west-2: "
        "its period is 10 s"
    )
    assert "its statistic p99 is extended" in info.value.message
    assert info.value.message.endswith("): DNS would never move (docs/dns.md)")


def test_a_claim_is_its_time_and_a_withdrawal_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("failover_controller.changes.time.time", lambda: 1_800_000_000.7)
    (claimed,) = changes.claim_data("recsys", claim=True)
    (withdrawn,) = changes.claim_data("recsys", claim=False)
    assert claimed["Value"] == 1_800_000_000.0, "its time, in whole seconds"
    assert withdrawn["Value"] == 0.0
    assert claimed["Unit"] == "None"
    assert claimed["Dimensions"] == [{"Name": "Application", "Value": "recsys"}]


# Verify reads DNS as clients do, where the plan says what each region's answers are (data_plane).


def verified(plan: RecoveryPlan, f: ClientFactory) -> Any:
    """The whole application built around the claims' world, failed over but for DNS, and Verify's dns check."""
    built = world.build(plan.document, f, store=False, aurora_and_tables=False, lag_ms=None)
    for region in built.regions:
        f.ssm(region).put_parameter(Name=built.write_region_parameter, Value="us-west-2", Overwrite=True)
    f.sagemaker("us-west-2").update_endpoint_weights_and_capacities(
        EndpointName="recsys-ranker-usw2",
        DesiredWeightsAndCapacities=[{"VariantName": "ranker", "DesiredInstanceCount": 4}],
    )
    return built


@pytest.mark.parametrize("mode", ["graceful", "ungraceful"])
def test_verify_asks_dns_as_clients_do_and_names_each_name_answering_elsewhere(
    claims: tuple[RecoveryPlan, Script], f: ClientFactory, mode: Mode
) -> None:
    plan, script = claims
    built = verified(plan, f)
    alarm_reads(built, f, "us-west-2", claimed=True)
    with pytest.raises(VerificationFailed) as info:
        verify.run(request(built, f, "check", mode=mode))
    assert "dns.answers" in info.value.message
    assert f"{API} CNAME answers ['api.us-east-1.recsys.internal']" in info.value.message
    check = next(c for c in info.value.details["checks"] if c["name"] == "dns.answers")
    assert (check["threshold"], check["verdict"]) == ("us-west-2", "fail")
    assert check["observed"] == {f"{API} CNAME": "us-east-1", f"{INFERENCE} CNAME": "us-east-1"}
    assert check["resource"] == f"{API} CNAME, {INFERENCE} CNAME"
    dns_answers(script, "us-west-2")
    passed = next(c for c in verify.run(request(built, f, "check", mode=mode)).checks if c.name == "dns.answers")
    assert (passed.verdict, passed.detail, passed.threshold) == ("pass", "", "us-west-2")
    assert passed.observed == {f"{API} CNAME": "us-west-2", f"{INFERENCE} CNAME": "us-west-2"}
