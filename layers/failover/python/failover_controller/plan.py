"""The recovery plan: what to fail over for one application, and how.

A plan is JSON, validated against ``plan.schema.json`` and then for the rules a schema cannot say (the
per-region maps name exactly the plan's two regions, quorum fits the signals...). A bad plan is rejected
with every problem named, as ``PlanInvalid``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from failover_controller.errors import PlanInvalid
from failover_controller.schema import SchemaValidator

SCHEMA_PATH = Path(__file__).with_name("plan.schema.json")
RoutingPolicy = Literal["weighted", "failover"]


@dataclass(frozen=True)
class Variant:
    variant_name: str
    standby_instance_count: int
    active_instance_count: int
    active_weight: float


@dataclass(frozen=True)
class Endpoint:
    endpoint_name: str
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: str
    set_identifiers: dict[str, str]

    @property
    def fqdn(self) -> str:
        """Route 53 returns names with a trailing dot; compare in that form."""
        return self.name if self.name.endswith(".") else self.name + "."


@dataclass(frozen=True)
class Signal:
    """A CloudWatch alarm that says the active region is unhealthy, and the region it lives in."""

    name: str
    region: str


@dataclass(frozen=True)
class RecoveryPlan:
    application: str
    primary_region: str
    standby_region: str
    rto_seconds: int
    rpo_seconds: int
    signals: tuple[Signal, ...]
    quorum: int
    cooldown_seconds: int
    automatic_mode: Literal["graceful", "ungraceful"]
    automatic_requires_approval: bool
    global_cluster_id: str
    aurora_clusters: dict[str, str]
    dynamodb_tables: tuple[str, ...]
    write_region_parameter: str
    endpoints: dict[str, Endpoint]
    drain_source: bool
    artifact_buckets: dict[str, str]
    image_repository: str
    hosted_zone_id: str
    routing_policy: RoutingPolicy
    active_weight: int
    records: tuple[DnsRecord, ...]
    document: dict[str, Any]

    @property
    def alarm_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.signals)

    @property
    def regions(self) -> tuple[str, str]:
        return (self.primary_region, self.standby_region)

    def other_region(self, region: str) -> str:
        """The region traffic leaves when failing into ``region``."""
        self.require_region(region)
        return self.standby_region if region == self.primary_region else self.primary_region

    def require_region(self, region: str) -> None:
        if region not in self.regions:
            raise PlanInvalid(
                self.application,
                [f"region {region!r} is not one of the plan's regions ({', '.join(self.regions)})"],
            )


@cache
def _validator() -> SchemaValidator:
    return SchemaValidator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def _semantic_problems(doc: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    regions = doc["regions"]
    pair = {regions["primary"], regions["standby"]}
    if len(pair) != 2:
        problems.append("regions: primary and standby must be different regions")
    per_region = {
        "aurora.clusters": doc["aurora"]["clusters"],
        "sagemaker.endpoints": doc["sagemaker"]["endpoints"],
        "sagemaker.artifact_buckets": doc["sagemaker"]["artifact_buckets"],
    }
    for i, record in enumerate(doc["route53"]["records"]):
        per_region[f"route53.records[{i}].set_identifiers"] = record["set_identifiers"]
        if len(set(record["set_identifiers"].values())) != len(record["set_identifiers"]):
            problems.append(f"route53.records[{i}].set_identifiers: each region needs its own set identifier")
    for where, mapping in per_region.items():
        keys = set(mapping)
        for missing in sorted(pair - keys):
            problems.append(f"{where}: has no entry for plan region {missing}")
        for extra in sorted(keys - pair):
            problems.append(f"{where}.{extra}: is not one of the plan's regions ({', '.join(sorted(pair))})")
    signals = doc["signals"]
    names = [a["name"] for a in signals["alarms"]]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"signals.alarms: {name} is listed more than once")
    for i, alarm in enumerate(signals["alarms"]):
        if alarm["region"] not in pair:
            problems.append(
                f"signals.alarms[{i}].region: {alarm['region']} is not one of the plan's regions: no controller "
                "stack there could deliver its state changes to Detect"
            )
    if signals["quorum"] > len(signals["alarms"]):
        problems.append(f"signals.quorum: {signals['quorum']} exceeds the {len(signals['alarms'])} alarm(s) listed")
    seen_records: set[tuple[str, str]] = set()
    for i, record in enumerate(doc["route53"]["records"]):
        key = (record["name"].rstrip(".").lower(), record["type"])
        if key in seen_records:
            problems.append(f"route53.records[{i}]: {record['name']} {record['type']} is listed twice")
        seen_records.add(key)
    for region, endpoint in doc["sagemaker"]["endpoints"].items():
        names = [v["variant_name"] for v in endpoint["variants"]]
        if len(set(names)) != len(names):
            problems.append(f"sagemaker.endpoints.{region}.variants: variant names must be unique")
        for j, variant in enumerate(endpoint["variants"]):
            if variant["standby_instance_count"] > variant["active_instance_count"]:
                problems.append(
                    f"sagemaker.endpoints.{region}.variants[{j}]: standby_instance_count "
                    f"({variant['standby_instance_count']}) exceeds active_instance_count "
                    f"({variant['active_instance_count']})"
                )
        if endpoint["variants"] and sum(v["active_weight"] for v in endpoint["variants"]) <= 0:
            problems.append(f"sagemaker.endpoints.{region}.variants: active weights must not all be 0")
    return problems


def parse_plan(doc: Any, source: str = "(inline)") -> RecoveryPlan:
    """Validate a decoded plan and build the typed plan, or raise PlanInvalid naming every problem."""
    problems = [f"{path}: {reason}" for path, reason in _validator().errors(doc)]
    if problems:
        raise PlanInvalid(source, problems)
    problems = _semantic_problems(doc)
    if problems:
        raise PlanInvalid(source, problems)
    endpoints = {
        region: Endpoint(
            endpoint_name=ep["endpoint_name"],
            variants=tuple(
                Variant(
                    variant_name=v["variant_name"],
                    standby_instance_count=v["standby_instance_count"],
                    active_instance_count=v["active_instance_count"],
                    active_weight=float(v["active_weight"]),
                )
                for v in ep["variants"]
            ),
        )
        for region, ep in doc["sagemaker"]["endpoints"].items()
    }
    route53 = doc["route53"]
    return RecoveryPlan(
        application=doc["application"],
        primary_region=doc["regions"]["primary"],
        standby_region=doc["regions"]["standby"],
        rto_seconds=doc["objectives"]["rto_seconds"],
        rpo_seconds=doc["objectives"]["rpo_seconds"],
        signals=tuple(Signal(name=a["name"], region=a["region"]) for a in doc["signals"]["alarms"]),
        quorum=doc["signals"]["quorum"],
        cooldown_seconds=doc["signals"]["cooldown_seconds"],
        automatic_mode=doc["signals"].get("mode", "ungraceful"),
        automatic_requires_approval=doc["signals"].get("require_approval", False),
        global_cluster_id=doc["aurora"]["global_cluster_id"],
        aurora_clusters=dict(doc["aurora"]["clusters"]),
        dynamodb_tables=tuple(doc["dynamodb"]["tables"]),
        write_region_parameter=doc["dynamodb"]["write_region_parameter"],
        endpoints=endpoints,
        drain_source=doc["sagemaker"].get("drain_source", False),
        artifact_buckets=dict(doc["sagemaker"]["artifact_buckets"]),
        image_repository=doc["sagemaker"]["image_repository"],
        hosted_zone_id=route53["hosted_zone_id"].removeprefix("/hostedzone/"),
        routing_policy=route53["routing_policy"],
        active_weight=route53.get("active_weight", 100),
        records=tuple(
            DnsRecord(name=r["name"], type=r["type"], set_identifiers=dict(r["set_identifiers"]))
            for r in route53["records"]
        ),
        document=doc,
    )


def loads_plan(text: str, source: str = "(inline)") -> RecoveryPlan:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanInvalid(source, [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]) from exc
    return parse_plan(doc, source)


def load_plan_file(path: str | Path) -> RecoveryPlan:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanInvalid(str(path), [f"cannot be read: {exc.strerror}"]) from exc
    return loads_plan(text, str(path))
