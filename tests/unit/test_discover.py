"""The decisions of `failoverctl plan discover` that need no account: names, records' regions, pairs, drift."""

from __future__ import annotations

import argparse
import copy

import pytest

from failoverctl.discover import Found, drift, identifiers, pair_endpoints, record_region, stem, tag_filter
from tests.support.events import data_plane_plan_doc

CLAIM = "failover-controller-recsys-traffic-claim"


def found() -> Found:
    return Found("recsys", "us-east-1", "us-west-2", {"failover:application": "recsys"})


@pytest.mark.parametrize(
    ("name", "region", "expected"),
    [
        ("recsys-ranker-use1", "us-east-1", "recsys-ranker"),
        ("recsys-ranker-us-west-2", "us-west-2", "recsys-ranker"),
        ("usw2_ranker", "us-west-2", "ranker"),
        ("recsys-ranker-usw2", "us-east-1", "recsys-ranker-usw2"),
        ("house1-ranker", "us-east-1", "house1-ranker"),
    ],
)
def test_a_name_without_its_region(name: str, region: str, expected: str) -> None:
    assert stem(name, region) == expected


def test_a_records_region_is_its_own_then_the_one_its_claim_check_does_not_follow_then_the_one_it_names() -> None:
    checks = {
        "claim-west": {"Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": "us-west-2", "Name": CLAIM}},
        "other-alarm": {"Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": "us-west-2", "Name": "cpu"}},
        "https-east": {"Type": "HTTPS", "FullyQualifiedDomainName": "api.us-east-1.example.com"},
    }
    f = found()
    assert record_region(f, {"Region": "us-west-2", "HealthCheckId": "claim-west"}, checks) == ("us-west-2", "latency")
    assert record_region(f, {"HealthCheckId": "claim-west"}, checks) == ("us-east-1", "claim")
    assert record_region(f, {"HealthCheckId": "other-alarm"}, checks) == (None, "named")
    assert record_region(f, {"HealthCheckId": "https-east"}, checks) == ("us-east-1", "named")
    assert record_region(f, {"ResourceRecords": [{"Value": "lb.usw2.example.com"}]}, checks) == ("us-west-2", "named")
    assert record_region(f, {"AliasTarget": {"DNSName": "x.us-west-2.elb.amazonaws.com"}}, checks)[0] == "us-west-2"
    both = {"ResourceRecords": [{"Value": "us-east-1.example.com"}, {"Value": "us-west-2.example.com"}]}
    assert record_region(f, both, checks) == (None, "named"), "an answer naming both regions decides nothing"


def test_endpoints_pair_by_name_then_by_their_variants_and_the_rest_is_said() -> None:
    f = found()
    serving = {"ranker-use1": {"a": (4, 1.0)}, "embedder": {"e": (2, 1.0)}, "lonely-use1": {"z": (1, 1.0)}}
    warm = {"ranker-usw2": {"a": (1, 1.0)}, "vectors": {"e": (1, 1.0), "e2": (1, 0.0)}, "spare-usw2": {"q": (1, 1.0)}}
    assert pair_endpoints(f, serving, warm) == [("embedder", "vectors"), ("ranker-use1", "ranker-usw2")]
    assert f.review == ["sagemaker: embedder paired with vectors by their variants (their names differ)"]
    assert f.left_out == [
        "SageMaker endpoint lonely-use1 (us-east-1): no endpoint of us-west-2 pairs with it",
        "SageMaker endpoint spare-usw2 (us-west-2): pairs with no endpoint of us-east-1",
    ]


def test_drift_is_what_either_side_names_alone() -> None:
    plan = data_plane_plan_doc()
    f = found()
    f.doc = copy.deepcopy(plan)
    assert drift(plan, f) == ([], [])
    f.doc["dynamodb"]["tables"].append("recsys-new")
    f.doc["signals"]["alarms"].pop()
    f.doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0]["active_instance_count"] = 9  # counts are not drift
    assert drift(plan, f) == (["DynamoDB table recsys-new"], ["CloudWatch alarm recsys-health-check-use1 (us-east-1)"])


def test_a_partial_discovery_names_what_it_has() -> None:
    assert identifiers({"dynamodb": {"tables": ["t"], "write_region_parameter": ""}}) == {"DynamoDB table t"}


def test_tags_match_in_any_shape_and_a_tag_filter_is_key_equals_value() -> None:
    f = Found("recsys", "us-east-1", "us-west-2", {"failover:application": "recsys", "env": "prod"})
    assert f.tagged([{"key": "failover:application", "value": "recsys"}, {"key": "env", "value": "prod"}])
    assert f.tagged({"failover:application": "recsys", "env": "prod", "team": "ml"})
    assert not f.tagged([{"Key": "failover:application", "Value": "recsys"}])
    assert not f.tagged(None)
    assert tag_filter("env=prod=1") == ("env", "prod=1")
    for bad in ("env", "=prod", "env="):
        with pytest.raises(argparse.ArgumentTypeError, match="is not KEY=VALUE"):
            tag_filter(bad)
