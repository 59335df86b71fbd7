"""Reading DNS answers back as regions (the parts that need no name server), and a zone no server answers for."""

from __future__ import annotations

import pytest

from failover_controller.errors import TransientAwsError
from failover_controller.plan import parse_plan
from failover_controller.reads import dns
from failoverctl.drill.emulators import free_port
from tests.support.events import data_plane_plan_doc


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
