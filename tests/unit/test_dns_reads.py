"""Reading DNS answers back as regions (the parts that need no name server), and a zone no server answers for."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import dns.rcode as dns_rcode
import pytest

from failover_controller.errors import TransientAwsError
from failover_controller.plan import RecoveryPlan, parse_plan
from failover_controller.reads import dns
from failoverctl.drill.emulators import free_port
from tests.support.events import data_plane_plan_doc
from tests.support.scripted_dns import Script, scripted_dns


def test_answers_read_back_as_the_region_whose_values_they_are() -> None:
    record = parse_plan(data_plane_plan_doc()).records[0]
    assert dns.region_of(record, dns.normalized(["API.us-west-2.recsys.internal."])) == "us-west-2"
    assert dns.region_of(record, dns.normalized(["api.us-east-1.recsys.internal"])) == "us-east-1"
    assert dns.region_of(record, ("elsewhere.example.com",)) is None
    assert dns.region_of(record, ()) is None, "no answer is no region's"


def test_a_name_server_is_a_host_and_an_optional_port() -> None:
    assert dns.server_address("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert dns.server_address("127.0.0.1") == ("127.0.0.1", 53)


def test_when_no_name_server_answers_the_error_names_each_and_is_worth_retrying(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dns, "TIMEOUT_S", 0.2)
    doc = data_plane_plan_doc()
    ports = [free_port(), free_port()]  # nothing listens
    doc["route53"]["name_servers"] = [f"127.0.0.1:{p}" for p in ports]
    plan = parse_plan(doc)
    with pytest.raises(TransientAwsError) as info:
        dns.ask(plan, plan.records[0])
    assert info.value.message.startswith("no name server of api.recsys.example.com. answered: ")
    assert all(f"127.0.0.1:{p}" in info.value.message for p in ports)


# Asking DNS, against a name server whose answers the test writes.

API, INFERENCE = "api.recsys.example.com.", "inference.recsys.example.com."
USE1 = {API: "api.us-east-1.recsys.internal.", INFERENCE: "inference.us-east-1.recsys.internal."}
USW2 = {API: "api.us-west-2.recsys.internal.", INFERENCE: "inference.us-west-2.recsys.internal."}


@pytest.fixture
def served() -> Iterator[tuple[RecoveryPlan, Script]]:
    """The sample plan, its zone's name server the scripted one (a second, silent one listed first)."""
    with scripted_dns() as (address, script):
        doc = data_plane_plan_doc()
        doc["route53"]["name_servers"] = [f"127.0.0.1:{free_port()}", address]
        yield parse_plan(doc), script


def answering(script: Script, by_name: dict[str, str], subnet: str | None = None) -> None:
    for name, value in by_name.items():
        script.answer(name, "CNAME", [value], subnet)


def test_the_first_name_server_that_answers_is_believed(
    served: tuple[RecoveryPlan, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dns, "TIMEOUT_S", 0.2)
    plan, script = served
    answering(script, USW2)
    assert dns.ask(plan, plan.records[0]) == ("api.us-west-2.recsys.internal",)
    assert script.asked == [(API, "CNAME", None)]
    assert dns.served_from(plan) == {
        f"{API} CNAME": {"answers": ["api.us-west-2.recsys.internal"], "region": "us-west-2"},
        f"{INFERENCE} CNAME": {"answers": ["inference.us-west-2.recsys.internal"], "region": "us-west-2"},
    }


@pytest.mark.parametrize(("rcode", "text"), [(dns_rcode.SERVFAIL, "SERVFAIL"), (dns_rcode.REFUSED, "REFUSED")])
def test_a_name_server_answering_with_an_error_is_no_answer(
    served: tuple[RecoveryPlan, Script], monkeypatch: pytest.MonkeyPatch, rcode: dns_rcode.Rcode, text: str
) -> None:
    monkeypatch.setattr(dns, "TIMEOUT_S", 0.2)
    plan, script = served
    script.rcode = rcode
    with pytest.raises(TransientAwsError) as info:
        dns.ask(plan, plan.records[0])
    assert f"{plan.name_servers[1]}: {text}" in info.value.message
    assert f"{plan.name_servers[0]}: Timeout" in info.value.message


def test_a_name_without_the_record_answers_nothing_and_is_no_regions(
    served: tuple[RecoveryPlan, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dns, "TIMEOUT_S", 0.2)
    plan, script = served
    script.answer(API, "TXT", ['"not a cname"'])
    assert dns.ask_name(plan, API, "CNAME") == (), "another type's record is not the answer"
    assert dns.ask_name(plan, "nothing.recsys.example.com.", "CNAME") == (), "NXDOMAIN: no such name"
    assert dns.served_from(plan)[f"{API} CNAME"] == {"answers": [], "region": None}


def test_latency_records_are_asked_for_each_regions_clients(
    served: tuple[RecoveryPlan, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dns, "TIMEOUT_S", 0.2)
    plan, script = served
    doc = plan.document | {"route53": plan.document["route53"] | {"routing_policy": "latency"}}
    doc["route53"]["client_subnets"] = {"us-east-1": "3.80.0.0/24", "us-west-2": "34.208.0.0/24"}
    latency = parse_plan(doc)
    answering(script, USE1, "3.80.0.0/24")
    answering(script, USW2, "34.208.0.0/24")
    seen = dns.served_from(latency)[f"{API} CNAME"]
    assert seen == {
        "answers": ["api.us-east-1.recsys.internal", "api.us-west-2.recsys.internal"],
        "region": None,
        "by_client": {"us-east-1": "us-east-1", "us-west-2": "us-west-2"},
    }
    assert (API, "CNAME", "34.208.0.0/24") in script.asked, "asked with EDNS Client Subnet"
    assert dns.answers_as(seen, None), "each client's nearest region"
    assert not dns.answers_as(seen, "us-west-2")
    answering(script, USW2, "3.80.0.0/24")
    moved = dns.served_from(latency)[f"{API} CNAME"]
    assert (moved["region"], moved["by_client"]) == ("us-west-2", {"us-east-1": "us-west-2", "us-west-2": "us-west-2"})
    assert dns.answers_as(moved, "us-west-2")
    assert not dns.answers_as(moved, None)
    assert not dns.answers_as({"region": None}, None), "no client asked: not each client's own region"


@pytest.mark.parametrize(
    ("said", "claims"),
    [(['"claimed"'], True), (['"free"'], False), ([], None)],
)
def test_the_primarys_claim_is_read_from_its_probe(
    served: tuple[RecoveryPlan, Script], monkeypatch: pytest.MonkeyPatch, said: list[str], claims: bool | None
) -> None:
    monkeypatch.setattr(dns, "TIMEOUT_S", 0.2)
    plan, script = served
    assert dns.probe_name(plan) == "_primary-claim.api.recsys.example.com."
    script.answer(dns.probe_name(plan), "TXT", said)
    script.answer(API, "CNAME", [USE1[API]])
    assert dns.primary_claim(plan) is claims
    assert (dns.probe_name(plan), "TXT", None) in script.asked


@pytest.mark.parametrize("said", [['"maybe"'], ['"free"', '"claimed"']])
def test_a_probe_answering_neither_free_nor_claimed_is_no_answer(
    served: tuple[RecoveryPlan, Script], monkeypatch: pytest.MonkeyPatch, said: list[str]
) -> None:
    monkeypatch.setattr(dns, "TIMEOUT_S", 0.2)
    plan, script = served
    script.answer(dns.probe_name(plan), "TXT", said)
    with pytest.raises(TransientAwsError, match="neither free nor claimed"):
        dns.primary_claim(plan)


def test_where_route53_sends_the_names_given_the_claims() -> None:
    plan = parse_plan(data_plane_plan_doc())
    assert dns.routed_to(plan, {"us-east-1": False, "us-west-2": True}) == "us-west-2"
    assert dns.routed_to(plan, {"us-east-1": True, "us-west-2": False}) == "us-east-1"
    assert dns.routed_to(plan, {"us-east-1": True, "us-west-2": True}) == "us-east-1", "all unhealthy: by weight"
    assert dns.routed_to(plan, {}) == "us-east-1", "nobody claims: the primary"
    doc = data_plane_plan_doc()
    doc["route53"]["routing_policy"] = "latency"
    doc["route53"]["client_subnets"] = {"us-east-1": "3.80.0.0/24", "us-west-2": "34.208.0.0/24"}
    latency = parse_plan(doc)
    assert dns.routed_to(latency, {"us-east-1": True, "us-west-2": True}) is None
    assert dns.routed_to(latency, {"us-west-2": True}) == "us-west-2"
    assert dns.described(None) == "each client's nearest region"
    assert dns.described("us-west-2") == "us-west-2"
    assert dns.answers_as({"region": "us-west-2"}, "us-west-2")
    assert not dns.answers_as({"region": "us-east-1"}, "us-west-2")


def test_a_name_server_that_cannot_be_resolved_is_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(*_: object, **__: object) -> None:  # the system's resolver, which a test must not ask
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    with pytest.raises(TransientAwsError, match=r"name server ns\.example\.com: cannot be resolved"):
        dns.server_address("ns.example.com")
