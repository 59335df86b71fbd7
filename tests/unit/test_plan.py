from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failover_controller.errors import PlanInvalid
from failover_controller.plan import SCHEMA_PATH, load_plan_file, loads_plan, parse_plan, stored_bytes, stored_form
from failover_controller.schema import SchemaValidator
from failoverctl.__main__ import main
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
    assert plan.endpoints["us-west-2"][0].variants[0].active_instance_count == 4
    assert plan.records[0].fqdn == "api.recsys.example.com."
    assert plan.quorum == 2
    assert plan.active_weight == 100


def test_every_problem_is_named_with_its_path(plan_doc: dict[str, Any]) -> None:
    del plan_doc["aurora"]["global_cluster_id"]
    plan_doc["objectives"]["rpo_seconds"] = "sixty"
    plan_doc["signals"]["quorum"] = 0
    plan_doc["route53"]["routing_policy"] = "geolocation"
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0]["active_weight"] = -1
    plan_doc["surprise"] = True
    problems = problems_of(plan_doc)
    assert "aurora: is missing required field 'global_cluster_id'" in problems
    assert "objectives.rpo_seconds: must be of type integer, got str" in problems
    assert "signals.quorum: must be >= 1, got 0" in problems
    policy = "route53.routing_policy: must be one of 'weighted', 'failover', 'latency'"
    assert any(p.startswith(policy) for p in problems)
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


def test_our_validator_agrees_with_jsonschema_on_the_list_form_of_endpoints() -> None:
    doc = json.loads((SAMPLE_PLAN.parent / "large.json").read_text())
    reference = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    ours = SchemaValidator(json.loads(SCHEMA_PATH.read_text()))
    mutations = _mutations(doc)
    assert len(mutations) > 1000
    for mutated in mutations:
        assert bool(ours.errors(mutated)) == (not reference.is_valid(mutated)), json.dumps(mutated)[:300]


# Any file at all: exit 2 and a short message naming the problem, never a traceback, never a value echoed whole.


def validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["plan", "validate", str(path)])
    captured = capsys.readouterr()
    return code, captured.err + captured.out


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is binary (it contains NUL bytes), not JSON text"),
        (b'{"application": "caf\xe9"}', "is not UTF-8 text (byte 0xe9 at offset 20)"),
        (b"[" * 100_000 + b"]" * 100_000, "is nested too deeply to be a plan"),
        (b'{"a": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b" " * (1024 * 1024 + 1), "is larger than 1048576 bytes: not a plan"),
        (b"", "not valid JSON: Expecting value at line 1 column 1"),
    ],
)
def test_any_file_gets_exit_2_and_a_short_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, problem: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    code, text = validate(path, capsys)
    assert code == 2
    assert problem in text
    assert "Traceback" not in text
    assert len(text) < 500


def test_a_directory_is_not_a_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = validate(tmp_path, capsys)
    assert (code, "cannot be read" in text) == (2, True)


def test_long_values_are_never_echoed_whole(
    plan_doc: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_doc["regions"]["primary"] = "x" * 100_000
    plan_doc["route53"]["routing_policy"] = "y" * 100_000
    plan_doc["z" * 100_000] = 1
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan_doc))
    code, text = validate(path, capsys)
    assert code == 2
    assert "xxx... (100002 chars)" in text
    assert "yyy... (100002 chars)" in text
    assert len(text) < 2000


@given(st.binary(max_size=2000))
@settings(max_examples=200, deadline=None)
def test_random_bytes_never_crash_validate(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plan.json"
        path.write_bytes(content)
        assert main(["plan", "validate", str(path)]) == 2


@pytest.mark.parametrize(
    ("region", "problem"),
    [
        ("us-moon-1", "regions.standby: 'us-moon-1' is not an AWS region"),
        ("cn-north-1", "regions: us-east-1 (aws) and cn-north-1 (aws-cn) are in different partitions"),
    ],
)
def test_regions_must_be_real_ones_of_one_partition(plan_doc: dict[str, Any], region: str, problem: str) -> None:
    for section in (
        plan_doc["aurora"]["clusters"],
        plan_doc["sagemaker"]["endpoints"],
        plan_doc["sagemaker"]["artifact_buckets"],
    ):
        section[region] = section.pop("us-west-2")
    for record in plan_doc["route53"]["records"]:
        record["set_identifiers"][region] = record["set_identifiers"].pop("us-west-2")
    for alarm in plan_doc["signals"]["alarms"]:
        alarm["region"] = region if alarm["region"] == "us-west-2" else alarm["region"]
    plan_doc["regions"]["standby"] = region
    assert any(p.startswith(problem) for p in problems_of(plan_doc)), problems_of(plan_doc)


def test_a_standby_lacking_a_variant_the_primary_serves_is_refused(plan_doc: dict[str, Any]) -> None:
    primary = plan_doc["sagemaker"]["endpoints"]["us-east-1"]
    primary["variants"].append({**primary["variants"][0], "variant_name": "reranker"})
    assert problems_of(plan_doc) == [
        "sagemaker.endpoints.us-west-2.variants: has no variant 'reranker', "
        "which recsys-ranker-use1 in us-east-1 serves"
    ]


def test_endpoints_are_paired_by_position(plan_doc: dict[str, Any]) -> None:
    standby = plan_doc["sagemaker"]["endpoints"]["us-west-2"]
    plan_doc["sagemaker"]["endpoints"]["us-west-2"] = [standby, {**standby, "endpoint_name": "recsys-extra-usw2"}]
    assert problems_of(plan_doc) == [
        "sagemaker.endpoints: us-east-1 has 1 endpoint(s), us-west-2 2: each endpoint of the primary needs its "
        "standby, at the same position"
    ]


def test_a_signal_outside_the_pair_is_refused(plan_doc: dict[str, Any]) -> None:
    plan_doc["signals"]["alarms"][0]["region"] = "eu-west-1"
    assert problems_of(plan_doc) == [
        "signals.alarms[0].region: eu-west-1 is not one of the plan's regions: no controller stack there could "
        "deliver its state changes to Detect"
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x89PNG\x00", "is binary (it contains NUL bytes), not JSON text"),
        (b'{"a": "\xff"}', "is not UTF-8 text (byte 0xff at offset 7)"),
        (b" " * (1024 * 1024 + 1), "is larger than 1048576 bytes: not a plan"),
    ],
)
def test_a_file_that_is_not_a_plan_is_named_by_its_path(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)
    with pytest.raises(PlanInvalid) as e:
        load_plan_file(path)
    assert str(e.value) == f"recovery plan {path} is invalid: {problem}"


def test_a_file_that_cannot_be_read_is_named_with_why(tmp_path: Path) -> None:
    with pytest.raises(PlanInvalid) as e:
        load_plan_file(tmp_path / "missing.json")
    assert (
        str(e.value)
        == f"recovery plan {tmp_path / 'missing.json'} is invalid: cannot be read: No such file or directory"
    )


def test_a_plan_of_exactly_the_size_limit_is_read(tmp_path: Path) -> None:
    text = SAMPLE_PLAN.read_text()
    path = tmp_path / "plan.json"
    path.write_bytes(text.encode() + b" " * (1024 * 1024 - len(text.encode())))
    assert load_plan_file(path).application == "recsys"


def test_a_plan_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b"\xef\xbb\xbf" + SAMPLE_PLAN.read_bytes())
    assert load_plan_file(path).application == "recsys"


def test_a_plans_problems_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"plan_version": 1}')
    with pytest.raises(PlanInvalid) as e:
        load_plan_file(path)
    assert str(e.value).startswith(f"recovery plan {path} is invalid: ")


# What a plan leaves out, and every rule beyond the schema, exactly.


def test_what_a_plan_leaves_out_gets_its_documented_default(plan_doc: dict[str, Any]) -> None:
    for section, key in (("signals", "mode"), ("signals", "require_approval"), ("sagemaker", "drain_source")):
        plan_doc[section].pop(key, None)
    plan_doc["route53"].pop("active_weight", None)
    plan_doc["route53"]["hosted_zone_id"] = "/hostedzone/Z0RECSYSEXAMPLE00001"
    plan = parse_plan(plan_doc)
    assert (plan.automatic_mode, plan.automatic_requires_approval, plan.drain_source, plan.active_weight) == (
        "ungraceful",
        False,
        False,
        100,
    )
    assert plan.hosted_zone_id == "Z0RECSYSEXAMPLE00001"


def test_the_model_carries_every_field_of_the_plan(plan_doc: dict[str, Any]) -> None:
    plan_doc["signals"].update(mode="graceful", require_approval=True, cooldown_seconds=77)
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0].update(
        standby_instance_count=2, active_instance_count=5, active_weight=0.5
    )
    plan = parse_plan(plan_doc)
    assert (plan.application, plan.primary_region, plan.standby_region) == ("recsys", "us-east-1", "us-west-2")
    assert (plan.rto_seconds, plan.rpo_seconds, plan.quorum, plan.cooldown_seconds) == (900, 60, 2, 77)
    assert (plan.automatic_mode, plan.automatic_requires_approval, plan.drain_source) == ("graceful", True, True)
    assert [(s.name, s.region) for s in plan.signals] == [
        ("recsys-api-canary-use1", "us-west-2"),
        ("recsys-inference-canary-use1", "us-west-2"),
        ("recsys-health-check-use1", "us-east-1"),
    ]
    assert plan.global_cluster_id == "recsys-metadata-global"
    assert plan.dynamodb_tables == ("recsys-features", "recsys-sessions")
    assert plan.write_region_parameter == "/recsys/write-region"
    (endpoint,) = plan.endpoints["us-west-2"]
    assert endpoint.endpoint_name == "recsys-ranker-usw2"
    assert [
        (v.variant_name, v.standby_instance_count, v.active_instance_count, v.active_weight) for v in endpoint.variants
    ] == [("ranker", 2, 5, 0.5)]
    assert plan.artifact_buckets == {"us-east-1": "recsys-models-us-east-1", "us-west-2": "recsys-models-us-west-2"}
    assert plan.image_repository == "recsys-ranker"
    assert (plan.routing_policy, plan.hosted_zone_id) == ("weighted", "Z0RECSYSEXAMPLE00001")
    assert [(r.name, r.type, r.set_identifiers["us-west-2"]) for r in plan.records] == [
        ("api.recsys.example.com.", "CNAME", "recsys-api-usw2"),
        ("inference.recsys.example.com.", "CNAME", "recsys-inference-usw2"),
    ]
    assert plan.document == plan_doc
    with pytest.raises(PlanInvalid) as e:
        plan.require_region("eu-west-1")
    assert str(e.value) == (
        "recovery plan recsys is invalid: region 'eu-west-1' is not one of the plan's regions (us-east-1, us-west-2)"
    )


def test_duplicates_are_named(plan_doc: dict[str, Any]) -> None:
    plan_doc["signals"]["alarms"].append(dict(plan_doc["signals"]["alarms"][0]))
    plan_doc["route53"]["records"].append({**plan_doc["route53"]["records"][0], "name": "API.recsys.example.com"})
    variants = plan_doc["sagemaker"]["endpoints"]["us-east-1"]["variants"]
    variants.append(dict(variants[0]))
    standby = plan_doc["sagemaker"]["endpoints"]["us-west-2"]
    plan_doc["sagemaker"]["endpoints"]["us-west-2"] = [standby, standby]
    primary = plan_doc["sagemaker"]["endpoints"]["us-east-1"]
    plan_doc["sagemaker"]["endpoints"]["us-east-1"] = [primary, {**primary, "endpoint_name": "recsys-other-use1"}]
    assert problems_of(plan_doc) == [
        "sagemaker.endpoints.us-west-2: endpoint recsys-ranker-usw2 is listed more than once",
        "signals.alarms: recsys-api-canary-use1 is listed more than once",
        "route53.records[2]: API.recsys.example.com CNAME is listed twice",
        "sagemaker.endpoints.us-east-1[0].variants: variant names must be unique",
        "sagemaker.endpoints.us-east-1[1].variants: variant names must be unique",
    ]


def test_weights_that_are_all_zero_and_extra_regions_are_named(plan_doc: dict[str, Any]) -> None:
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0]["active_weight"] = 0
    plan_doc["sagemaker"]["artifact_buckets"]["eu-west-1"] = "elsewhere"
    plan_doc["signals"]["quorum"] = 3
    assert problems_of(plan_doc) == [
        "sagemaker.artifact_buckets.eu-west-1: is not one of the plan's regions (us-east-1, us-west-2)",
        "sagemaker.endpoints.us-west-2.variants: active weights must not all be 0",
    ]


def test_a_standby_count_equal_to_the_active_one_is_allowed(plan_doc: dict[str, Any]) -> None:
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0]["standby_instance_count"] = 4
    assert parse_plan(plan_doc).endpoints["us-west-2"][0].variants[0].standby_instance_count == 4
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0]["standby_instance_count"] = 5
    assert problems_of(plan_doc) == [
        "sagemaker.endpoints.us-west-2.variants[0]: standby_instance_count (5) exceeds active_instance_count (4)"
    ]


def test_a_plan_too_large_for_ssm_is_refused_with_its_size(plan_doc: dict[str, Any]) -> None:
    plan_doc["description"] = "d" * 1000
    plan_doc["dynamodb"]["tables"] = [f"recsys-table-{i:04d}-{'x' * 180}" for i in range(40)]
    size = len(json.dumps(plan_doc, separators=(",", ":")).encode())
    assert size > 8192
    assert problems_of(plan_doc) == [
        f"(plan): is {size} bytes as stored (compact JSON); an SSM parameter holds at most 8192 bytes (advanced "
        "tier): split the application into plans"
    ]


def test_text_that_is_not_a_plan_is_named_by_its_source() -> None:
    with pytest.raises(PlanInvalid) as e:
        loads_plan("{", "x.json")
    assert str(e.value) == (
        "recovery plan x.json is invalid: not valid JSON: Expecting property name enclosed in double quotes at line 1 "
        "column 2"
    )
    with pytest.raises(PlanInvalid) as e:
        loads_plan("[" * 100_000 + "]" * 100_000, "deep.json")
    assert str(e.value) == "recovery plan deep.json is invalid: (plan): is nested too deeply to be a plan"
    with pytest.raises(PlanInvalid) as e:
        loads_plan('{"a": ' + "9" * 5000 + "}", "big.json")
    prefix = "recovery plan big.json is invalid: not valid JSON: "
    assert str(e.value).startswith(prefix + "Exceeds the limit (4300 digits) for integer string conversion")
    assert len(str(e.value)) == len(prefix) + 120


def test_a_plan_is_measured_as_ssm_stores_it_in_utf_8() -> None:
    assert stored_form({"d": "café", "n": [1, 2]}) == '{"d":"café","n":[1,2]}'
    assert stored_bytes({"d": "café"}) == len('{"d":"café"}'.encode())


def test_a_plan_of_exactly_8192_bytes_fits_ssm_and_one_more_does_not(plan_doc: dict[str, Any]) -> None:
    plan_doc["description"] = ""
    plan_doc["dynamodb"]["tables"] = [f"recsys-table-{i:04d}-{'x' * 150}" for i in range(35)]
    plan_doc["description"] = "d" * (8192 - stored_bytes(plan_doc))
    assert stored_bytes(plan_doc) == 8192
    assert parse_plan(plan_doc).application == "recsys"
    plan_doc["description"] += "d"
    assert problems_of(plan_doc)[0].startswith("(plan): is 8193 bytes as stored")


def test_a_plan_without_the_standbys_endpoints_is_named_not_a_crash(plan_doc: dict[str, Any]) -> None:
    endpoints = plan_doc["sagemaker"]["endpoints"]
    endpoints["eu-west-1"] = endpoints.pop("us-west-2")
    assert problems_of(plan_doc) == [
        "sagemaker.endpoints: has no entry for plan region us-west-2",
        "sagemaker.endpoints.eu-west-1: is not one of the plan's regions (us-east-1, us-west-2)",
    ]


def test_a_listed_standby_lacking_a_variant_is_named_by_position(plan_doc: dict[str, Any]) -> None:
    endpoints = plan_doc["sagemaker"]["endpoints"]
    endpoints["us-east-1"]["variants"].append({**endpoints["us-east-1"]["variants"][0], "variant_name": "reranker"})
    endpoints["us-west-2"] = [endpoints["us-west-2"]]
    assert problems_of(plan_doc) == [
        "sagemaker.endpoints.us-west-2[0].variants: has no variant 'reranker', "
        "which recsys-ranker-use1 in us-east-1 serves"
    ]


def test_a_value_nested_too_deeply_to_be_named_is_refused_by_its_source(plan_doc: dict[str, Any]) -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    plan_doc["signals"]["mode"] = deep
    with pytest.raises(PlanInvalid) as e:
        parse_plan(plan_doc)
    assert str(e.value) == "recovery plan (inline) is invalid: (plan): is nested too deeply to be a plan"
    with pytest.raises(PlanInvalid) as e:
        parse_plan(plan_doc, "deep.json")
    assert e.value.problems == ["(plan): is nested too deeply to be a plan"]


def test_a_semantic_problem_is_named_with_the_plans_source(plan_doc: dict[str, Any]) -> None:
    plan_doc["signals"]["alarms"].append(dict(plan_doc["signals"]["alarms"][0]))
    with pytest.raises(PlanInvalid) as e:
        parse_plan(plan_doc, "plans/recsys.json")
    assert str(e.value) == (
        "recovery plan plans/recsys.json is invalid: signals.alarms: recsys-api-canary-use1 is listed more than once"
    )


def test_record_names_are_the_same_whatever_their_case_and_trailing_dot(plan_doc: dict[str, Any]) -> None:
    first = plan_doc["route53"]["records"][0]
    plan_doc["route53"]["records"] = [
        {**first, "name": "svc.example.box."},
        {**first, "name": "SVC.EXAMPLE.BOX", "set_identifiers": {"us-east-1": "b-east", "us-west-2": "b-west"}},
    ]
    assert problems_of(plan_doc) == ["route53.records[1]: SVC.EXAMPLE.BOX CNAME is listed twice"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_a_constant_json_does_not_have_is_refused(plan_doc: dict[str, Any], number: str) -> None:
    """json.loads takes NaN and Infinity; the plan would be stored as NaN in SSM, which strict parsers refuse, and a
    weight of nan would be sent on every poll."""
    text = json.dumps(plan_doc).replace('"active_weight": 1.0', f'"active_weight": {number}', 1)
    assert number in text
    with pytest.raises(PlanInvalid, match=f"not valid JSON: {number} is not a JSON number"):
        loads_plan(text, "plan.json")


def test_a_number_too_large_to_hold_is_refused_where_it_is(plan_doc: dict[str, Any]) -> None:
    text = json.dumps(plan_doc).replace('"active_weight": 1.0', '"active_weight": 1e309', 1)
    with pytest.raises(PlanInvalid) as info:
        loads_plan(text, "plan.json")
    assert info.value.problems == [
        "sagemaker.endpoints.us-east-1.variants[0].active_weight: must be a finite number, got inf"
    ]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_number_in_a_document_is_refused(plan_doc: dict[str, Any], value: float) -> None:
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"][0]["active_weight"] = value
    assert problems_of(plan_doc) == [
        f"sagemaker.endpoints.us-west-2.variants[0].active_weight: must be a finite number, got {value}"
    ]


def test_a_duplicate_key_is_refused_instead_of_the_last_one_winning(plan_doc: dict[str, Any]) -> None:
    text = json.dumps(plan_doc).replace('"mode": ', '"mode": "ungraceful", "mode": ', 1)
    with pytest.raises(PlanInvalid, match="duplicate key 'mode' in one object"):
        loads_plan(text, "plan.json")


@pytest.mark.parametrize("field", ["application", "name"])
def test_a_trailing_newline_does_not_pass_a_pattern(plan_doc: dict[str, Any], field: str) -> None:
    """JSON Schema patterns are ECMA-262: "$" is the end of the text. Python's "$" also matches before a final
    newline, so "recsys\\n" passed "^[a-z0-9-]+$" and was queried and stored under that name."""
    if field == "application":
        plan_doc["application"] += "\n"
        where = "application"
    else:
        plan_doc["signals"]["alarms"][0]["name"] += "\n"
        where = "signals.alarms[0].name"
    problems = problems_of(plan_doc)
    assert problems
    assert problems[0].startswith(f"{where}: "), problems
    assert "does not match" in problems[0]


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"ungraceful": 0}, "sagemaker.traffic_at_capacity.ungraceful: must be > 0, got 0"),
        ({"graceful": 1.5}, "sagemaker.traffic_at_capacity.graceful: must be <= 1, got 1.5"),
        ({"graceful": "half"}, "sagemaker.traffic_at_capacity.graceful: must be of type number"),
        ({"failback": 0.5}, "sagemaker.traffic_at_capacity.failback"),
    ],
)
def test_the_traffic_capacity_is_a_fraction_per_mode(plan_doc: dict[str, Any], given: Any, problem: str) -> None:
    plan_doc["sagemaker"]["traffic_at_capacity"] = given
    with pytest.raises(PlanInvalid) as info:
        parse_plan(plan_doc)
    assert any(p.startswith(problem) for p in info.value.problems), info.value.problems


@pytest.mark.parametrize(
    ("fraction", "counts"),
    [(0.25, {"ranker": 1, "reranker": 1}), (0.5, {"ranker": 2, "reranker": 2}), (0.7, {"ranker": 3, "reranker": 3}),
     (0.01, {"ranker": 1, "reranker": 1}), (1.0, {"ranker": 4, "reranker": 3})],
)  # fmt: skip
def test_traffic_counts_are_the_ceiling_of_the_fraction_and_at_least_one(
    plan_doc: dict[str, Any], fraction: float, counts: dict[str, int]
) -> None:
    plan_doc["sagemaker"]["endpoints"]["us-west-2"]["variants"] = [
        {"variant_name": "ranker", "standby_instance_count": 1, "active_instance_count": 4, "active_weight": 0.75},
        {"variant_name": "reranker", "standby_instance_count": 1, "active_instance_count": 3, "active_weight": 0.25},
    ]
    plan_doc["sagemaker"]["traffic_at_capacity"] = {"ungraceful": fraction}
    plan = parse_plan(plan_doc)
    (endpoint,) = plan.endpoints["us-west-2"]
    assert plan.traffic_counts(endpoint, "ungraceful") == counts
    assert plan.traffic_counts(endpoint, "graceful") == {"ranker": 4, "reranker": 3}, "absent: full capacity"


def test_the_sample_moves_ungraceful_traffic_at_its_warm_capacity() -> None:
    plan = load_plan_file(SAMPLE_PLAN)
    for region in plan.regions:
        for endpoint in plan.endpoints[region]:
            warm = {v.variant_name: v.standby_instance_count for v in endpoint.variants}
            assert plan.traffic_counts(endpoint, "ungraceful") == warm
    assert plan.traffic_at_capacity["graceful"] == 1.0
