"""The drill's Route 53 DNS: answers asked over UDP with dnspython, for zones, records and health checks created
through the emulator's Route 53 API, health judged as Route 53 judges it: from the data of the alarm's metric,
published through the emulator's CloudWatch API, with the alarm's settings as the check copied them."""

from __future__ import annotations

import http.server
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import dns.edns
import dns.message
import dns.query
import dns.rcode
import pytest

from failover_controller.clients import ClientFactory
from failoverctl.drill import emulators
from failoverctl.drill.emulators import free_port
from failoverctl.drill.route53_dns import GEOGRAPHY, DnsServer, World, serve

pytestmark = pytest.mark.emulator

ZONE = "recsys.example.com."
NAME = "api.recsys.example.com."
REGIONS = ("us-east-1", "us-west-2")


class Dns:
    def __init__(self, f: ClientFactory, server: DnsServer) -> None:
        self.f, self.server, self.world = f, server, server.world
        self.published: dict[str, int] = {}
        self.r53 = f.route53("us-east-1")
        self.zone = self.r53.create_hosted_zone(Name=ZONE, CallerReference=ZONE)["HostedZone"]["Id"].rsplit("/")[-1]

    def ask(self, name: str = NAME, kind: str = "CNAME") -> tuple[str, list[str]]:
        host, port = self.server.address.split(":")
        reply = dns.query.udp(dns.message.make_query(name, kind), host, port=int(port), timeout=3)
        return dns.rcode.to_text(reply.rcode()), [r.to_text() for rrset in reply.answer for r in rrset]

    def alarm(self, region: str, state: str | None = None, **settings: Any) -> str:
        """The claim alarm as the template defines it (``settings`` change it); ``state``: data that makes it so."""
        alarm: Any = {
            "AlarmName": "claim",
            "Namespace": "FailoverController",
            "MetricName": "TrafficClaim",
            "Statistic": "Minimum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "ignore",
        } | settings
        self.f.cloudwatch(region).put_metric_alarm(**alarm)
        if state:
            self.publish(region, 1.0 if state == "ALARM" else 0.0)
        return "claim"

    def publish(self, region: str, value: float) -> None:
        """A datapoint in a second of its own: with no time scale the world's period is the emulator's one second,
        and the period's Minimum would otherwise let an earlier withdrawal win over this claim."""
        second = int(time.time())
        if self.published.get(region) == second:
            time.sleep(second + 1.01 - time.time())
        self.published[region] = int(time.time())
        self.f.cloudwatch(region).put_metric_data(
            Namespace="FailoverController", MetricData=[{"MetricName": "TrafficClaim", "Value": value}]
        )

    def check(self, config: dict[str, Any]) -> str:
        created = self.r53.create_health_check(
            CallerReference=str(uuid.uuid4()),
            HealthCheckConfig=config,  # type: ignore[arg-type]
        )
        return str(created["HealthCheck"]["Id"])

    def claim_check(self, region: str, insufficient: str = "LastKnownStatus") -> str:
        return self.check(
            {
                "Type": "CLOUDWATCH_METRIC",
                "AlarmIdentifier": {"Region": region, "Name": "claim"},
                "InsufficientDataHealthStatus": insufficient,
            }
        )

    def failover(
        self,
        primary_check: str | None,
        secondary_check: str | None = None,
        primary: str = "us-east-1",
        secondary: str = "us-west-2",
    ) -> None:
        """A failover pair of records: ``primary``'s answers PRIMARY, ``secondary``'s SECONDARY, each with its
        health check (none: always healthy)."""
        checks = [{"HealthCheckId": c} if c else {} for c in (primary_check, secondary_check)]
        self.records(
            {"SetIdentifier": "p", "Failover": "PRIMARY"} | checks[0] | value(primary),
            {"SetIdentifier": "s", "Failover": "SECONDARY"} | checks[1] | value(secondary),
        )

    def records(self, *sets: dict[str, Any], name: str = NAME, kind: str = "CNAME") -> None:
        changes: Any = [
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": kind, "TTL": 60} | s} for s in sets
        ]
        self.r53.change_resource_record_sets(HostedZoneId=self.zone, ChangeBatch={"Changes": changes})


def value(region: str) -> dict[str, Any]:
    return {"ResourceRecords": [{"Value": f"api.{region}.recsys.internal"}]}


def answer(region: str) -> tuple[str, list[str]]:
    return ("NOERROR", [f"api.{region}.recsys.internal."])


@pytest.fixture
def zone(emulated: ClientFactory, emulator_pair: emulators.Emulators) -> Iterator[Dns]:
    server = serve(free_port(), World(emulator_pair.ministack_url), interval_s=None)
    yield Dns(emulated, server)
    server.shutdown()
    server.server_close()


def claims(zone: Dns) -> dict[str, str]:
    """Each region's records carry the health check of the other region's claim (the data-plane design)."""
    for region in REGIONS:
        zone.alarm(region, "OK")
    return {REGIONS[0]: zone.claim_check(REGIONS[1]), REGIONS[1]: zone.claim_check(REGIONS[0])}


def test_failover_records_follow_the_claims_and_both_claims_answer_with_the_primary(zone: Dns) -> None:
    health = claims(zone)
    zone.failover(health["us-east-1"], health["us-west-2"])
    assert zone.ask() == answer("us-east-1")
    zone.publish("us-west-2", 1.0)
    zone.world.tick()
    assert zone.ask() == answer("us-west-2"), "the standby's claim takes the primary out"
    zone.publish("us-east-1", 1.0)
    zone.world.tick()
    assert zone.ask() == answer("us-east-1"), "the secondary unhealthy: the primary, whatever its health"


def test_a_health_change_shows_only_once_it_has_held_for_the_checkers_lag(zone: Dns) -> None:
    health = claims(zone)
    zone.failover(health["us-east-1"], health["us-west-2"])
    assert zone.ask() == answer("us-east-1")
    zone.world.lag_s = 30.0
    zone.publish("us-west-2", 1.0)
    zone.world.tick(now=1000.0)
    zone.world.tick(now=1029.0)
    assert zone.ask() == answer("us-east-1")
    zone.world.tick(now=1030.0)
    assert zone.ask() == answer("us-west-2")


def test_weighted_records_answer_by_weight_among_the_healthy_and_zero_weights_only_when_none_is(zone: Dns) -> None:
    health = claims(zone)
    zone.records(
        {"SetIdentifier": "us-east-1", "Weight": 100, "HealthCheckId": health["us-east-1"]} | value("us-east-1"),
        {"SetIdentifier": "us-west-2", "Weight": 0, "HealthCheckId": health["us-west-2"]} | value("us-west-2"),
    )
    assert {zone.ask()[1][0] for _ in range(8)} == {"api.us-east-1.recsys.internal."}
    zone.publish("us-west-2", 1.0)
    zone.world.tick()
    assert {zone.ask()[1][0] for _ in range(8)} == {"api.us-west-2.recsys.internal."}
    zone.publish("us-east-1", 1.0)
    zone.world.tick()
    assert {zone.ask()[1][0] for _ in range(8)} == {"api.us-east-1.recsys.internal."}, "none healthy: by weight"


def test_weights_share_the_answers_in_proportion(zone: Dns) -> None:
    zone.records(
        {"SetIdentifier": "a", "Weight": 3} | value("us-east-1"),
        {"SetIdentifier": "b", "Weight": 1} | value("us-west-2"),
    )
    seen = [zone.ask()[1][0] for _ in range(40)]
    assert abs(seen.count("api.us-east-1.recsys.internal.") - 30) <= 2, "3 in 4, spread evenly"


def test_latency_records_answer_with_the_nearest_healthy_region(zone: Dns) -> None:
    health = claims(zone)
    zone.records(*[{"SetIdentifier": r, "Region": r, "HealthCheckId": health[r]} | value(r) for r in REGIONS])
    assert zone.ask() == answer("us-east-1")
    zone.world.near = "us-west-2"
    assert zone.ask() == answer("us-west-2")
    zone.publish("us-east-1", 1.0)
    zone.world.tick()
    assert zone.ask() == answer("us-east-1"), "the nearest is out: the next healthy one"


@pytest.mark.parametrize(("setting", "healthy"), [("Healthy", True), ("Unhealthy", False)])
def test_insufficient_data_takes_the_checks_setting(zone: Dns, setting: str, healthy: bool) -> None:
    zone.alarm("us-west-2")  # no data yet: INSUFFICIENT_DATA
    check = zone.claim_check("us-west-2", setting)
    zone.failover(check)
    assert zone.ask() == answer("us-east-1" if healthy else "us-west-2")


def test_a_dark_region_keeps_its_checks_last_known_status(zone: Dns) -> None:
    zone.alarm("us-east-1", "OK")
    check = zone.claim_check("us-east-1")
    zone.failover(check, primary="us-west-2", secondary="us-east-1")
    assert zone.ask() == answer("us-west-2")
    zone.world.down = {"us-east-1"}
    zone.publish("us-east-1", 1.0)
    zone.world.tick()
    assert zone.ask() == answer("us-west-2"), "the checkers cannot read a dark region: the last status holds"
    zone.world.down = set()
    zone.world.tick()
    assert zone.ask() == answer("us-east-1")


def test_a_calculated_check_counts_its_healthy_children_and_inverted_checks_flip(zone: Dns) -> None:
    zone.alarm("us-east-1", "OK")
    zone.alarm("us-west-2", "ALARM")
    ok, alarm = zone.claim_check("us-east-1"), zone.claim_check("us-west-2")
    inverted = zone.check(
        {
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": "us-west-2", "Name": "claim"},
            "InsufficientDataHealthStatus": "Healthy",
            "Inverted": True,
        }
    )
    two = zone.check({"Type": "CALCULATED", "ChildHealthChecks": [ok, alarm, inverted], "HealthThreshold": 2})
    three = zone.check({"Type": "CALCULATED", "ChildHealthChecks": [ok, alarm, inverted], "HealthThreshold": 3})
    for check, expected in ((two, "us-east-1"), (three, "us-west-2")):
        zone.failover(check)
        assert zone.ask() == answer(expected)


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b"serving ranker v7")

    def log_message(self, *_: Any) -> None:
        return


def test_an_http_check_probes_the_endpoint(zone: Dns) -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Health)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        port = httpd.server_address[1]
        http_check = zone.check({"Type": "HTTP", "IPAddress": "127.0.0.1", "Port": port, "ResourcePath": "/health"})
        match = zone.check(
            {
                "Type": "HTTP_STR_MATCH",
                "IPAddress": "127.0.0.1",
                "Port": port,
                "ResourcePath": "/",
                "SearchString": "v8",
            }
        )
        for check, expected in ((http_check, "us-east-1"), (match, "us-west-2")):
            zone.failover(check)
            assert zone.ask() == answer(expected)
        _Health.status = 500
        zone.world.tick()
        zone.failover(http_check)
        assert zone.ask() == answer("us-west-2")
    finally:
        _Health.status = 200
        httpd.shutdown()
        httpd.server_close()


def test_names_answer_as_an_authoritative_server_does(zone: Dns) -> None:
    zone.records({"ResourceRecords": [{"Value": "10.0.0.1"}]}, name="db.recsys.example.com.", kind="A")
    zone.records(value("us-east-1"))
    assert zone.ask("db.recsys.example.com.", "A") == ("NOERROR", ["10.0.0.1"])
    assert zone.ask(NAME, "A") == answer("us-east-1"), "a CNAME answers every type of its name"
    assert zone.ask("missing.recsys.example.com.", "A") == ("NXDOMAIN", [])
    assert zone.ask("db.recsys.example.com.", "AAAA") == ("NOERROR", [])
    assert zone.ask("www.example.org.", "A") == ("REFUSED", [])


def test_a_tcp_check_connects_to_the_endpoint(zone: Dns) -> None:
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    try:
        check = zone.check({"Type": "TCP", "IPAddress": "127.0.0.1", "Port": port})
        zone.failover(check)
        assert zone.ask() == answer("us-east-1")
    finally:
        listening.close()
    zone.world.tick()
    assert zone.ask() == answer("us-west-2"), "nothing listens any more: unhealthy"


def test_a_check_on_a_high_resolution_alarm_never_follows_it(zone: Dns, capsys: pytest.CaptureFixture[str]) -> None:
    """Route 53 API reference, AlarmIdentifier: standard-resolution metrics only; a 10-second alarm needs a
    high-resolution metric. The check never moves, whatever the claim says."""
    zone.alarm("us-west-2", Period=10, Statistic="Maximum")
    zone.failover(zone.claim_check("us-west-2"))
    assert zone.ask() == answer("us-east-1")
    zone.publish("us-west-2", 1.0)
    zone.world.tick()
    assert zone.ask() == answer("us-east-1"), "the standby's claim is never seen"
    assert "does not follow alarm claim in us-west-2: a period of 10 s" in capsys.readouterr().out


@pytest.mark.parametrize("settings", [{"ExtendedStatistic": "p99", "Statistic": None}, {"Period": 90}])
def test_route53_refuses_extended_statistics_and_periods_that_are_not_minutes(
    zone: Dns, settings: dict[str, Any]
) -> None:
    zone.alarm("us-west-2", **{k: v for k, v in settings.items() if v is not None})
    if "ExtendedStatistic" in settings:  # an alarm has a statistic or an extended one, never both
        zone.f.cloudwatch("us-west-2").put_metric_alarm(
            AlarmName="claim",
            Namespace="FailoverController",
            MetricName="TrafficClaim",
            ExtendedStatistic="p99",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    zone.failover(zone.claim_check("us-west-2"))
    zone.publish("us-west-2", 1.0)
    zone.world.tick()
    assert zone.ask() == answer("us-east-1")


def test_a_period_over_before_the_checkers_judge_it_is_not_missed(zone: Dns) -> None:
    """On AWS a period lasts a minute and the checkers judge it many times over; with no time scale a period is one
    second, which a round of the checkers can outlast. A claim first judged after its second has passed still moves
    the answer: LastKnownStatus is the status the last period with data made."""
    health = claims(zone)
    zone.failover(health["us-east-1"], health["us-west-2"])
    zone.world.tick()
    zone.publish("us-west-2", 1.0)
    time.sleep(int(time.time()) + 1.05 - time.time())  # the claim's second is over before the checkers look
    zone.world.tick()
    assert zone.ask() == answer("us-west-2")


def test_set_alarm_state_does_not_move_a_check_that_follows_the_data(zone: Dns) -> None:
    """Route 53 "monitors the data stream for the corresponding alarm instead of monitoring the alarm state"."""
    health = claims(zone)
    zone.failover(health["us-east-1"], health["us-west-2"])
    zone.f.cloudwatch("us-west-2").set_alarm_state(AlarmName="claim", StateValue="ALARM", StateReason="by hand")
    zone.world.tick()
    assert zone.ask() == answer("us-east-1")


def test_a_check_keeps_the_alarm_settings_it_copied_until_it_is_updated(zone: Dns) -> None:
    """A changed alarm reaches the check only through UpdateHealthCheck ("you need to update the health check")."""
    zone.alarm("us-west-2", "OK")
    check = zone.claim_check("us-west-2")
    zone.failover(check)
    zone.world.tick()
    zone.alarm("us-west-2", Threshold=0)  # now any datapoint, a withdrawal too, breaches: the alarm is in ALARM
    zone.publish("us-west-2", 0.0)
    zone.world.tick()
    assert zone.f.cloudwatch("us-west-2").describe_alarms(AlarmNames=["claim"])["MetricAlarms"][0]["StateValue"] == (
        "ALARM"
    )
    assert zone.ask() == answer("us-east-1"), "the check judges the data by the threshold it copied"
    zone.r53.update_health_check(HealthCheckId=check, AlarmIdentifier={"Region": "us-west-2", "Name": "claim"})
    zone.world.tick()
    assert zone.ask() == answer("us-west-2")


def test_the_drill_cloudwatch_evaluates_alarms_per_period_with_missing_data_ignored(
    zone: Dns, emulator_pair: emulators.Emulators
) -> None:
    """CloudWatch evaluates the periods that have ended; TreatMissingData ignore keeps the state (the emulator's own
    evaluation is a sliding window at each datapoint). With Maximum, a withdrawal inside the claim's period is lost,
    and stays lost: the next periods have no data. With Minimum, the template's statistic, the withdrawal wins."""
    emulators.outage_time(emulator_pair.proxy_url, 60.0)  # a 60-second period lasts one second
    time.sleep(1.2)  # the drill's CloudWatch reads the time scale every second
    cw = zone.f.cloudwatch("us-west-2")

    def state_after_a_period(statistic: str) -> str:
        zone.alarm("us-west-2", Statistic=statistic)
        time.sleep(3.0)  # earlier datapoints leave the evaluated period
        time.sleep(1.0 - time.time() % 1.0 + 0.05)  # the start of a period
        cw.put_metric_data(  # a claim and its withdrawal in one period
            Namespace="FailoverController",
            MetricData=[{"MetricName": "TrafficClaim", "Value": 1.0}, {"MetricName": "TrafficClaim", "Value": 0.0}],
        )
        time.sleep(2.5)  # that period ended, and the next one, with no data
        return str(cw.describe_alarms(AlarmNames=["claim"])["MetricAlarms"][0]["StateValue"])

    assert state_after_a_period("Maximum") == "ALARM"
    # A withdrawal in a period of its own is seen when that period ends (the emulator's 60-second window kept the
    # claim for a minute of real time).
    cw.put_metric_data(Namespace="FailoverController", MetricData=[{"MetricName": "TrafficClaim", "Value": 0.0}])
    time.sleep(2.5)
    assert cw.describe_alarms(AlarmNames=["claim"])["MetricAlarms"][0]["StateValue"] == "OK"
    # Another series of the metric (another dimension set) is not the alarm's (the emulator matched by name only).
    cw.put_metric_data(
        Namespace="FailoverController",
        MetricData=[
            {"MetricName": "TrafficClaim", "Value": 1.0, "Dimensions": [{"Name": "Application", "Value": "x"}]}
        ],
    )
    time.sleep(2.5)
    assert cw.describe_alarms(AlarmNames=["claim"])["MetricAlarms"][0]["StateValue"] == "OK"
    assert state_after_a_period("Minimum") == "OK"


def test_latency_records_answer_each_client_by_its_subnet_whoever_asks(zone: Dns) -> None:
    """Route 53 answers latency records by where the client is: the EDNS Client Subnet when the query has one, else
    the resolver's address (developer guide, how Route 53 uses EDNS0 to estimate the location of a user)."""
    zone.records(*[{"SetIdentifier": r, "Region": r} | value(r) for r in REGIONS])
    host, port = zone.server.address.split(":")

    def ask_for(client: str) -> list[str]:
        query = dns.message.make_query(NAME, "CNAME", use_edns=0, options=[dns.edns.ECSOption(client, 24)])
        reply = dns.query.udp(query, host, port=int(port), timeout=3)
        return [r.to_text() for rrset in reply.answer for r in rrset]

    zone.world.near = "us-west-2"  # the resolver asking is near us-west-2
    assert zone.ask() == answer("us-west-2")
    assert ask_for(GEOGRAPHY["us-east-1"].split("/")[0]) == answer("us-east-1")[1]
    assert ask_for(GEOGRAPHY["us-west-2"].split("/")[0]) == answer("us-west-2")[1]
    assert ask_for("100.64.0.1") == answer("us-west-2")[1], "a client outside the geography: the resolver's region"
