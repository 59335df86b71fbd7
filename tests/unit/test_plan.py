from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from failover_controller.errors import PlanInvalid
from failover_controller.plan import SCHEMA_PATH, load_plan_file, loads_plan, parse_plan
from failover_controller.schema import SchemaValidator
from tests.support.events import SAMPLE_PLAN


def problems_of(doc: Any) -> list[str]:
    with pytest.raises(PlanInvalid) as info:
        parse_plan(doc)
    return info.value.problems


def test_sample_plan_loads_into_the_model() -> None:
    plan = load_plan_file(SAMPLE_PLAN)
    assert plan.regions == ("us-east-1", "us-west-2")
    assert plan.other_region("us-west-2") == "us-east-1"
    assert plan.aurora_clusters["us-west-2"] == "recsys-metadata-usw2"
    assert plan.endpoints["us-west-2"].variants[0].active_instance_count == 4
    assert plan.records[0].fqdn == "api.recsys.example.com."
    assert plan.quorum == 2
    assert plan.active_weight == 100


def test_every_problem_is_named_with_its_path(plan_doc: dict[str, Any]) -> None:
    del plan_doc["aurora"]["global_cluster_id"]
    plan_doc["objectives"]["rpo_seconds"] = "sixty"
    plan_doc["signals"]["quorum"] = 0
    plan_doc["route53"]["routing_policy"] = "latency"
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0]["active_weight"] = -1
    plan_doc["surprise"] = True
    problems = problems_of(plan_doc)
    assert "aurora: is missing required field 'global_cluster_id'" in problems
    assert "objectives.rpo_seconds: must be of type integer, got str" in problems
    assert "signals.quorum: must be >= 1, got 0" in problems
    assert any(p.startswith("route53.routing_policy: must be one of 'weighted', 'failover'") for p in problems)
    assert "sagemaker.endpoints.us-west-2.variants[0].active_weight: must be >= 0, got -1" in problems
    assert "surprise: is not a known field" in problems
    assert len(problems) == 6


def test_rules_beyond_the_schema_are_all_named(plan_doc: dict[str, Any]) -> None:
    plan_doc["signals"]["quorum"] = 4
    plan_doc["aurora"]["clusters"] = {"us-east-1": "a", "eu-west-1": "b"}
    variant = plan_doc["sagemaker"]["endpoints"]["us-east-1"]["variants"][0]
    variant["standby_instance_count"] = 9
    plan_doc["route53"]["records"][1]["set_identifiers"]["us-west-2"] = "recsys-inference-use1"
    problems = problems_of(plan_doc)
    assert "signals.quorum: 4 exceeds the 3 alarm(s) listed" in problems
    assert "aurora.clusters: has no entry for plan region us-west-2" in problems
    assert any(p.startswith("aurora.clusters.eu-west-1: is not one of the plan's regions") for p in problems)
    assert any("standby_instance_count (9) exceeds active_instance_count (4)" in p for p in problems)
    assert "route53.records[1].set_identifiers: each region needs its own set identifier" in problems


def test_same_region_twice_is_rejected(plan_doc: dict[str, Any]) -> None:
    plan_doc["regions"]["standby"] = "us-east-1"
    assert "regions: primary and standby must be different regions" in problems_of(plan_doc)


@pytest.mark.parametrize("doc", [None, [], "plan", 3])
def test_a_plan_that_is_not_an_object_is_rejected(doc: Any) -> None:
    assert problems_of(doc)[0].startswith("(plan): must be of type object")


def test_invalid_json_and_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(PlanInvalid, match="not valid JSON"):
        loads_plan("{", "x.json")
    with pytest.raises(PlanInvalid, match="cannot be read"):
        load_plan_file(tmp_path / "missing.json")


def test_region_outside_the_plan_is_refused() -> None:
    plan = load_plan_file(SAMPLE_PLAN)
    with pytest.raises(PlanInvalid, match="eu-west-1"):
        plan.other_region("eu-west-1")


def _mutations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Single-field corruptions across the document, for comparing our validator with jsonschema."""
    out: list[dict[str, Any]] = []
    bad_values: list[Any] = [None, 0, -5, 1.5, "", "x", [], {}, True, "us-west-2", "/p"]

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            for key in node:
                walk(node[key], (*path, key))
                dropped = copy.deepcopy(doc)
                target = dropped
                for part in path:
                    target = target[part]
                del target[key]
                out.append(dropped)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, (*path, i))
        for value in bad_values:
            mutated = copy.deepcopy(doc)
            target = mutated
            for part in path[:-1]:
                target = target[part]
            if path:
                target[path[-1]] = value
                out.append(mutated)

    walk(doc, ())
    return out


def test_our_validator_agrees_with_jsonschema_on_every_mutation(plan_doc: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    reference = jsonschema.Draft202012Validator(schema)
    ours = SchemaValidator(schema)
    mutations = _mutations(plan_doc)
    assert len(mutations) > 300
    for doc in mutations:
        assert bool(ours.errors(doc)) == (not reference.is_valid(doc)), json.dumps(doc)[:300]
