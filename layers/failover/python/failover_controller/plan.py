"""The recovery plan: what to fail over for one application, and how.

A plan is JSON, validated against ``plan.schema.json`` and then for the rules a schema cannot say (the
per-region maps name exactly the plan's two regions, quorum fits the signals...). A bad plan is rejected
with every problem named, as ``PlanInvalid``.
"""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from botocore.loaders import create_loader

from failover_controller.errors import PlanInvalid
from failover_controller.schema import SchemaValidator, shown

SCHEMA_PATH = Path(__file__).with_name("plan.schema.json")
RoutingPolicy = Literal["weighted", "failover", "latency"]
DnsMode = Literal["data_plane", "control_plane"]
# Where a plan is stored: an SSM parameter, 4 KB in the standard tier, 8 KB in the advanced tier.
STANDARD_TIER_BYTES = 4096
ADVANCED_TIER_BYTES = 8192
MAX_PLAN_FILE_BYTES = 1024 * 1024


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
    values: dict[str, tuple[str, ...]] | None = None  # data_plane: the answers that mean "served from region"
    ttl: int = 60

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
    endpoints: dict[str, tuple[Endpoint, ...]]  # per region; the n-th of each region serve the same model
    drain_source: bool
    prewarm_seconds: int  # 0: no pre-warm on suspicion
    # Per mode: the fraction of the active capacity the standby must have in service before traffic moves.
    traffic_at_capacity: dict[str, float]
    artifact_buckets: dict[str, str]
    image_repository: str
    hosted_zone_id: str
    dns_mode: DnsMode
    name_servers: tuple[str, ...]
    client_subnets: dict[str, str]  # latency records: clients near each region (EDNS Client Subnet)
    routing_policy: RoutingPolicy
    active_weight: int
    records: tuple[DnsRecord, ...]
    document: dict[str, Any]
    # Concurrent executions the stack reserves for each runbook function and for Detect (0: none).
    reserved_concurrency: tuple[int, int] = (2, 5)

    @property
    def alarm_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.signals)

    @property
    def regions(self) -> tuple[str, str]:
        return (self.primary_region, self.standby_region)

    def traffic_counts(self, endpoint: Endpoint, mode: str) -> dict[str, int]:
        """Each variant's instances in service before traffic moves in ``mode``: ceil(fraction x active), at least 1
        (ARC Region switch's rule for its capacity blocks)."""
        fraction = self.traffic_at_capacity[mode]
        return {
            v.variant_name: max(1, math.ceil(round(fraction * v.active_instance_count, 9))) for v in endpoint.variants
        }

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


@cache
def partition_regions() -> dict[str, str]:
    """Every region botocore knows, with its partition (aws, aws-cn, aws-us-gov...)."""
    data = create_loader().load_data("partitions")
    return {
        region: partition["id"]
        for partition in data["partitions"]
        for region in partition.get("regions", {})
        if not region.endswith("-global")
    }


def stored_form(doc: Any) -> str:
    """The plan as it is stored and compared: compact JSON."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def stored_bytes(doc: Any) -> int:
    return len(stored_form(doc).encode("utf-8"))


def _region_problems(regions: dict[str, str]) -> list[str]:
    known = partition_regions()
    problems = [
        f"regions.{role}: {shown(region)} is not an AWS region (botocore knows {len(known)})"
        for role, region in regions.items()
        if region not in known
    ]
    partitions = {known.get(r) for r in regions.values()}
    if not problems and len(partitions) > 1:
        problems.append(
            f"regions: {regions['primary']} ({known[regions['primary']]}) and {regions['standby']} "
            f"({known[regions['standby']]}) are in different partitions; a global database cannot span them"
        )
    return problems


def endpoint_list(value: Any) -> list[Any]:
    """A region's endpoints: one object, or a list of them."""
    return value if isinstance(value, list) else [value]


def _endpoint_problems(doc: dict[str, Any], primary: str, standby: str) -> list[str]:
    """The standby pairs each of the primary's endpoints (by position) and serves every variant it serves, or part
    of the traffic has nowhere to go."""
    endpoints = {r: endpoint_list(e) for r, e in doc["sagemaker"]["endpoints"].items()}
    problems = []
    for region, items in endpoints.items():
        names = [e["endpoint_name"] for e in items]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"sagemaker.endpoints.{region}: endpoint {name} is listed more than once")
    if primary not in endpoints or standby not in endpoints:
        return problems
    if len(endpoints[primary]) != len(endpoints[standby]):
        return [
            *problems,
            f"sagemaker.endpoints: {primary} has {len(endpoints[primary])} endpoint(s), {standby} "
            f"{len(endpoints[standby])}: each endpoint of the primary needs its standby, at the same position",
        ]
    for i, (serving, warm) in enumerate(zip(endpoints[primary], endpoints[standby], strict=True)):
        where = f"sagemaker.endpoints.{standby}" + (
            f"[{i}]" if isinstance(doc["sagemaker"]["endpoints"][standby], list) else ""
        )
        serves = {v["variant_name"] for v in serving["variants"]}
        has = {v["variant_name"] for v in warm["variants"]}
        problems += [
            f"{where}.variants: has no variant {name!r}, which {serving['endpoint_name']} in {primary} serves"
            for name in sorted(serves - has)
        ]
    return problems


def _semantic_problems(doc: dict[str, Any]) -> list[str]:
    """The rules a schema cannot say; every problem named."""
    regions = doc["regions"]
    pair = {regions["primary"], regions["standby"]}
    problems = [] if len(pair) == 2 else ["regions: primary and standby must be different regions"]
    problems += _region_problems(regions)
    problems += _endpoint_problems(doc, regions["primary"], regions["standby"])
    size = stored_bytes(doc)
    if size > ADVANCED_TIER_BYTES:
        problems.append(
            f"(plan): is {size} bytes as stored (compact JSON); an SSM parameter holds at most "
            f"{ADVANCED_TIER_BYTES} bytes (advanced tier): split the application into plans"
        )
    problems += _per_region_problems(doc, pair)
    problems += _signal_problems(doc["signals"], pair)
    problems += _record_problems(doc["route53"]["records"])
    problems += _dns_mode_problems(doc["route53"])
    for region, value in doc["sagemaker"]["endpoints"].items():
        for k, endpoint in enumerate(endpoint_list(value)):
            where = f"sagemaker.endpoints.{region}" + (f"[{k}]" if isinstance(value, list) else "")
            problems += _variant_rules(where, endpoint["variants"])
    return problems


def _per_region_problems(doc: dict[str, Any], pair: set[str]) -> list[str]:
    """Every per-region map names exactly the plan's two regions."""
    per_region = {
        "aurora.clusters": doc["aurora"]["clusters"],
        "sagemaker.endpoints": doc["sagemaker"]["endpoints"],
        "sagemaker.artifact_buckets": doc["sagemaker"]["artifact_buckets"],
    }
    if "client_subnets" in doc["route53"]:
        per_region["route53.client_subnets"] = doc["route53"]["client_subnets"]
    for i, record in enumerate(doc["route53"]["records"]):
        per_region[f"route53.records[{i}].set_identifiers"] = record["set_identifiers"]
        if "values" in record:
            per_region[f"route53.records[{i}].values"] = record["values"]
    problems = []
    for where, mapping in per_region.items():
        problems += [f"{where}: has no entry for plan region {missing}" for missing in sorted(pair - set(mapping))]
        problems += [
            f"{where}.{extra}: is not one of the plan's regions ({', '.join(sorted(pair))})"
            for extra in sorted(set(mapping) - pair)
        ]
    return problems


def _signal_problems(signals: dict[str, Any], pair: set[str]) -> list[str]:
    names = [a["name"] for a in signals["alarms"]]
    problems = [
        f"signals.alarms: {n} is listed more than once" for n in sorted({n for n in names if names.count(n) > 1})
    ]
    problems += [
        f"signals.alarms[{i}].region: {alarm['region']} is not one of the plan's regions: no controller stack there "
        "could deliver its state changes to Detect"
        for i, alarm in enumerate(signals["alarms"])
        if alarm["region"] not in pair
    ]
    if signals["quorum"] > len(signals["alarms"]):
        problems.append(f"signals.quorum: {signals['quorum']} exceeds the {len(signals['alarms'])} alarm(s) listed")
    return problems


def _record_problems(records: list[dict[str, Any]]) -> list[str]:
    problems = []
    seen: set[tuple[str, str]] = set()
    for i, record in enumerate(records):
        if len(set(record["set_identifiers"].values())) != len(record["set_identifiers"]):
            problems.append(f"route53.records[{i}].set_identifiers: each region needs its own set identifier")
        key = (record["name"].rstrip(".").lower(), record["type"])
        if key in seen:
            problems.append(f"route53.records[{i}]: {record['name']} {record['type']} is listed twice")
        seen.add(key)
    return problems


def _dns_mode_problems(route53: dict[str, Any]) -> list[str]:
    """Data-plane DNS needs to know where to ask and what each region's answers are; latency routing can only be
    steered through health checks."""
    if route53.get("mode", "control_plane") == "control_plane":
        if route53["routing_policy"] == "latency":
            return ["route53.routing_policy: latency records move only through health checks: use mode data_plane"]
        return []
    problems = []
    if "name_servers" not in route53:
        problems.append(
            "route53.name_servers: data_plane mode asks the zone's name servers where traffic goes: list them"
        )
    problems += _client_subnet_problems(route53)
    for i, record in enumerate(route53["records"]):
        values = record.get("values")
        if values is None:
            problems.append(f"route53.records[{i}].values: data_plane mode needs each region's answers")
        elif record["type"] == "CNAME" and any(len(v) != 1 for v in values.values()):
            problems.append(f"route53.records[{i}].values: a CNAME record has exactly one value in each region")
        elif len({tuple(sorted(v)) for v in values.values()}) != len(values):
            problems.append(
                f"route53.records[{i}].values: each region needs its own answers, or DNS cannot tell them apart"
            )
    return problems


def _client_subnet_problems(route53: dict[str, Any]) -> list[str]:
    """Latency records are answered by where the client is: DNS must be asked for each region's clients."""
    problems = []
    if route53["routing_policy"] == "latency" and "client_subnets" not in route53:
        problems.append(
            "route53.client_subnets: latency records are answered by where the client is; name a subnet of clients "
            "near each region, so that DNS is asked for each region's clients, wherever the controller runs"
        )
    for region, subnet in route53.get("client_subnets", {}).items():
        try:
            ipaddress.ip_network(subnet)
        except ValueError as exc:
            problems.append(f"route53.client_subnets.{region}: {subnet!r} is not a subnet ({exc})")
    return problems


def _variant_rules(where: str, variants: list[dict[str, Any]]) -> list[str]:
    problems = []
    names = [v["variant_name"] for v in variants]
    if len(set(names)) != len(names):
        problems.append(f"{where}.variants: variant names must be unique")
    for j, variant in enumerate(variants):
        if variant["standby_instance_count"] > variant["active_instance_count"]:
            problems.append(
                f"{where}.variants[{j}]: standby_instance_count ({variant['standby_instance_count']}) exceeds "
                f"active_instance_count ({variant['active_instance_count']})"
            )
    if variants and sum(v["active_weight"] for v in variants) <= 0:
        problems.append(f"{where}.variants: active weights must not all be 0")
    return problems


def _record(r: dict[str, Any]) -> DnsRecord:
    return DnsRecord(
        name=r["name"],
        type=r["type"],
        set_identifiers=dict(r["set_identifiers"]),
        values={region: tuple(v) for region, v in r["values"].items()} if "values" in r else None,
        ttl=r.get("ttl", 60),
    )


def parse_plan(doc: Any, source: str = "(inline)") -> RecoveryPlan:
    """Validate a decoded plan and build the typed plan, or raise PlanInvalid naming every problem."""
    try:
        problems = [f"{path}: {reason}" for path, reason in _validator().errors(doc)]
    except RecursionError as exc:
        raise PlanInvalid(source, ["(plan): is nested too deeply to be a plan"]) from exc
    if problems:
        raise PlanInvalid(source, problems)
    problems = _semantic_problems(doc)
    if problems:
        raise PlanInvalid(source, problems)
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
        endpoints=_endpoints(doc),
        drain_source=doc["sagemaker"].get("drain_source", False),
        prewarm_seconds=doc["sagemaker"].get("prewarm_seconds", 0),
        traffic_at_capacity=_traffic_at_capacity(doc),
        artifact_buckets=dict(doc["sagemaker"]["artifact_buckets"]),
        image_repository=doc["sagemaker"]["image_repository"],
        hosted_zone_id=route53["hosted_zone_id"].removeprefix("/hostedzone/"),
        dns_mode=route53.get("mode", "control_plane"),
        name_servers=tuple(route53.get("name_servers", ())),
        client_subnets=dict(route53.get("client_subnets", {})),
        routing_policy=route53["routing_policy"],
        active_weight=route53.get("active_weight", 100),
        records=tuple(_record(r) for r in route53["records"]),
        document=doc,
        reserved_concurrency=_reserved_concurrency(doc),
    )


def _endpoints(doc: dict[str, Any]) -> dict[str, tuple[Endpoint, ...]]:
    return {
        region: tuple(
            Endpoint(
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
            for ep in endpoint_list(value)
        )
        for region, value in doc["sagemaker"]["endpoints"].items()
    }


def _traffic_at_capacity(doc: dict[str, Any]) -> dict[str, float]:
    """Per mode, the fraction of active capacity before traffic moves: 1.0 where the plan says nothing."""
    given = doc["sagemaker"].get("traffic_at_capacity", {})
    return {mode: float(given.get(mode, 1.0)) for mode in ("graceful", "ungraceful")}


def _reserved_concurrency(doc: dict[str, Any]) -> tuple[int, int]:
    chosen = doc.get("controller", {}).get("reserved_concurrency", {})
    return chosen.get("steps", 2), chosen.get("detect", 5)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {shown(key)} in one object (the last would win silently)")
        seen.add(key)
    return dict(pairs)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def strict_json(text: str) -> Any:
    """JSON as RFC 8259 has it: no NaN or Infinity, no duplicate keys (json.loads takes both, the last key
    winning). ValueError names the problem."""
    return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_not_json)


def loads_plan(text: str, source: str) -> RecoveryPlan:
    try:
        doc = strict_json(text)
    except json.JSONDecodeError as exc:
        raise PlanInvalid(source, [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]) from exc
    except RecursionError as exc:
        raise PlanInvalid(source, ["(plan): is nested too deeply to be a plan"]) from exc
    except ValueError as exc:  # e.g. an integer too long to convert
        raise PlanInvalid(source, [f"not valid JSON: {str(exc)[:120]}"]) from exc
    return parse_plan(doc, source)


def load_plan_file(path: str | Path) -> RecoveryPlan:
    """A plan file, or PlanInvalid with one short reason for anything that is not a JSON text of a sane size."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_PLAN_FILE_BYTES + 1)
    except OSError as exc:
        raise PlanInvalid(str(path), [f"cannot be read: {exc.strerror or exc}"]) from exc
    if len(data) > MAX_PLAN_FILE_BYTES:
        raise PlanInvalid(str(path), [f"is larger than {MAX_PLAN_FILE_BYTES} bytes: not a plan"])
    if b"\x00" in data:
        raise PlanInvalid(str(path), ["is binary (it contains NUL bytes), not JSON text"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlanInvalid(
            str(path), [f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"]
        ) from exc
    return loads_plan(text, str(path))
