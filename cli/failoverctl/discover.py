"""`failoverctl plan discover`: a recovery plan read from the account, and the drift between the account and a plan.

Read-only: only Describe, List and Get calls. The application's resources are those tagged
``failover:application=NAME`` (docs/plan.md). The Resource Groups Tagging API finds the tagged DynamoDB tables, S3
buckets and ECR repositories; each service's own calls find the rest and tell what tags cannot: Aurora's global
cluster members, the tables' replicas, the endpoints' variants and instance counts, the buckets' replication, the
zone's name servers and the records that lead to each region.

Whatever it had to guess, leave out or set to a default is said, so a person reviews it before `plan push`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import ClientError

from failover_controller.aws import call, error_code
from failover_controller.clients import ClientFactory
from failover_controller.errors import PlanInvalid, PreconditionFailed, StepFailed
from failover_controller.names import APPLICATION_TAG, PLAN_NAME, arn_region, claim_alarm_name
from failover_controller.plan import RecoveryPlan, endpoint_list, load_plan_file, parse_plan
from failover_controller.plan_store import PlanStore
from failover_controller.reads import s3
from failoverctl import inputs
from failoverctl.operate import CommandError, factory_for, kept_name_server

# Defaults of what the account cannot tell (docs/plan.md), each listed for review in the command's output.
DEFAULT_OBJECTIVES = {"rto_seconds": 900, "rpo_seconds": 60}
DEFAULT_COOLDOWN_S = 3600
RECORD_TYPES = ("A", "AAAA", "CNAME")  # what a plan's records may be (the TXT of `dns setup`'s probe is not one)
POLICIES = (("Region", "latency"), ("Failover", "failover"), ("Weight", "weighted"))  # a record set's key -> policy
NO_REPLICATION = "ReplicationConfigurationNotFoundError"  # GetBucketReplication of a bucket without rules
ROUTE53_REGION = "us-east-1"
LEFT_OUT = "found and left out"  # Route 53's control plane; only discovery (peacetime) calls it there


@dataclass
class Found:
    """What discovery made of the account: the plan's parts, and what a person should know about them."""

    application: str
    primary: str
    standby: str
    tags: dict[str, str]
    doc: dict[str, Any] = field(default_factory=dict)
    review: list[str] = field(default_factory=list)  # set by a default or a guess
    left_out: list[str] = field(default_factory=list)  # found, not put in the plan, and why
    missing: list[str] = field(default_factory=list)  # a part the plan needs and the account did not show

    @property
    def regions(self) -> tuple[str, str]:
        return self.primary, self.standby

    def other(self, region: str) -> str:
        return self.standby if region == self.primary else self.primary

    def tagged(self, tags: Any) -> bool:
        """Do these tags (a list of Key/Value, either case, or a dict) carry the application's and --tag's?"""
        if isinstance(tags, dict):
            have = {str(k): str(v) for k, v in tags.items()}
        else:
            have = {str(t.get("Key", t.get("key"))): str(t.get("Value", t.get("value"))) for t in tags or []}
        return all(have.get(k) == v for k, v in self.tags.items())


def pages(what: str, client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
    """Every item under ``key`` of every page of a paginated List/Describe call."""
    for page in call(what, lambda: list(client.get_paginator(operation).paginate(**kwargs))):
        yield from page.get(key, [])


def tagged_arns(found: Found, f: ClientFactory, region: str, resource_type: str) -> list[str]:
    """The ARNs of the application's resources of ``resource_type`` in ``region`` (Resource Groups Tagging API)."""
    filters = [{"Key": k, "Values": [v]} for k, v in found.tags.items()]
    return sorted(
        m["ResourceARN"]
        for m in pages(
            f"GetResources ({resource_type}) in {region}",
            f.client("resourcegroupstaggingapi", region),
            "get_resources",
            "ResourceTagMappingList",
            TagFilters=filters,
            ResourceTypeFilters=[resource_type],
        )
    )


# --- Aurora -------------------------------------------------------------------------------------------------------


def discover_aurora(found: Found, f: ClientFactory) -> None:
    """The global cluster with a member in each region, tagged itself or through a member cluster."""
    tagged_clusters = {
        c["DBClusterArn"]
        for region in found.regions
        for c in pages(f"DescribeDBClusters in {region}", f.rds(region), "describe_db_clusters", "DBClusters")
        if found.tagged(c.get("TagList"))
    }
    candidates = []
    rds = f.rds(found.primary)
    for gc in pages(f"DescribeGlobalClusters in {found.primary}", rds, "describe_global_clusters", "GlobalClusters"):
        members = {arn_region(m["DBClusterArn"]): m["DBClusterArn"] for m in gc.get("GlobalClusterMembers", [])}
        mine = found.tagged(gc.get("TagList")) or tagged_clusters & set(members.values())
        if not mine:
            continue
        if not all(r in members for r in found.regions):
            found.left_out.append(
                f"Aurora global cluster {gc['GlobalClusterIdentifier']}: has no member in "
                f"{' and '.join(r for r in found.regions if r not in members)}"
            )
            continue
        writer = next((arn_region(m["DBClusterArn"]) for m in gc["GlobalClusterMembers"] if m.get("IsWriter")), None)
        ids = {r: members[r].rsplit(":", 1)[-1] for r in found.regions}
        candidates.append((gc["GlobalClusterIdentifier"], ids, writer))
    if not candidates:
        found.missing.append(f"an Aurora global cluster with a member in {found.primary} and {found.standby}")
        return
    if len(candidates) > 1:
        found.review.append(
            f"aurora: {len(candidates)} global clusters qualify ({', '.join(c[0] for c in candidates)}); a plan "
            f"fails over one: the first is in the plan, split the others into plans of their own"
        )
    name, clusters, writer = candidates[0]
    found.doc["aurora"] = {"global_cluster_id": name, "clusters": clusters}
    if writer != found.primary:
        found.review.append(
            f"regions: the Aurora writer is in {writer}, not {found.primary}: if the application is failed over now, "
            f"--primary should name the region that serves normally, and the counts read now are the wrong way round"
        )


# --- DynamoDB and the write-region parameter ---------------------------------------------------------------------


def discover_dynamodb(found: Found, f: ClientFactory) -> None:
    names = sorted(
        {arn.rsplit("/", 1)[-1] for r in found.regions for arn in tagged_arns(found, f, r, "dynamodb:table")}
    )
    tables = []
    for name in names:
        try:
            table = call(
                f"DescribeTable {name} in {found.primary}", f.dynamodb(found.primary).describe_table, TableName=name
            )["Table"]
        except PreconditionFailed:
            found.left_out.append(f"DynamoDB table {name}: tagged in {found.standby}, not in {found.primary}")
            continue
        replicas = {r["RegionName"] for r in table.get("Replicas", [])}
        if found.standby in replicas:
            tables.append(name)
        else:
            found.left_out.append(f"DynamoDB table {name}: not a global table with a replica in {found.standby}")
    if not tables:
        found.missing.append(f"a DynamoDB global table with replicas in {found.primary} and {found.standby}")
    found.doc["dynamodb"] = {"tables": tables, "write_region_parameter": write_region_parameter(found, f)}


def write_region_parameter(found: Found, f: ClientFactory) -> str:
    """The tagged SSM parameter, in both regions, whose value is one of the two regions: where the application
    writes. Tagged parameters holding anything else are not it."""
    named: dict[str, set[str]] = {}
    for region in found.regions:
        ssm = f.ssm(region)
        filters = [{"Key": f"tag:{k}", "Values": [v]} for k, v in found.tags.items()]
        for p in pages(
            f"DescribeParameters in {region}", ssm, "describe_parameters", "Parameters", ParameterFilters=filters
        ):
            value = call(f"GetParameter {p['Name']} in {region}", ssm.get_parameter, Name=p["Name"])["Parameter"]
            if value.get("Value") in found.regions:
                named.setdefault(p["Name"], set()).add(region)
    both = sorted(n for n, where in named.items() if where == set(found.regions))
    for name in sorted(set(named) - set(both)):
        found.left_out.append(f"SSM parameter {name}: holds a region in {', '.join(sorted(named[name]))} only")
    if not both:
        found.missing.append(
            f"the write-region parameter: an SSM parameter tagged in {found.primary} and {found.standby} whose value "
            f"is one of them"
        )
        return ""
    if len(both) > 1:
        found.review.append(f"dynamodb.write_region_parameter: {len(both)} parameters hold a region; {both[0]} chosen")
    return both[0]


# --- SageMaker, its artifacts and images -------------------------------------------------------------------------


def region_tokens(region: str) -> list[str]:
    """How names say a region: us-east-1, useast1, use1."""
    parts = region.split("-")
    return [region, "".join(parts), parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]]


def stem(name: str, region: str) -> str:
    """A name without its region (``recsys-ranker-use1`` -> ``recsys-ranker``): how a pair is recognised."""
    for token in region_tokens(region):
        name = re.sub(rf"(^|[-_.]){re.escape(token)}(?=$|[-_.])", "", name)
    return name.strip("-_.")


def endpoints_in(found: Found, f: ClientFactory, region: str) -> dict[str, dict[str, Any]]:
    """The region's tagged endpoints: variant name -> (instances now, weight now), by endpoint name."""
    sm = f.sagemaker(region)
    out = {}
    for ep in pages(f"ListEndpoints in {region}", sm, "list_endpoints", "Endpoints"):
        tags = pages(f"ListTags {ep['EndpointName']}", sm, "list_tags", "Tags", ResourceArn=ep["EndpointArn"])
        if not found.tagged(list(tags)):
            continue
        desc = call(f"DescribeEndpoint {ep['EndpointName']}", sm.describe_endpoint, EndpointName=ep["EndpointName"])
        variants = {}
        for v in desc.get("ProductionVariants", []):
            if "CurrentInstanceCount" not in v:
                found.left_out.append(f"{region} {ep['EndpointName']}/{v['VariantName']}: serverless (no instances)")
                continue
            variants[v["VariantName"]] = (v["CurrentInstanceCount"], float(v.get("CurrentWeight", 1.0)))
        out[ep["EndpointName"]] = variants
    return out


def pair_endpoints(found: Found, serving: dict[str, Any], warm: dict[str, Any]) -> list[tuple[str, str]]:
    """Each primary endpoint with the standby's of the same name but the region, or else the only one serving the
    same variants."""
    pairs, free = [], dict(warm)
    for name in sorted(serving):
        same = [w for w in free if stem(w, found.standby) == stem(name, found.primary)]
        alike = [w for w in free if set(free[w]) >= set(serving[name])]
        match = same[0] if len(same) == 1 else alike[0] if len(alike) == 1 else None
        if match is None:
            found.left_out.append(
                f"SageMaker endpoint {name} ({found.primary}): no endpoint of {found.standby} pairs with it"
            )
            continue
        if not same:
            found.review.append(f"sagemaker: {name} paired with {match} by their variants (their names differ)")
        pairs.append((name, match))
        del free[match]
    found.left_out += [
        f"SageMaker endpoint {w} ({found.standby}): pairs with no endpoint of {found.primary}" for w in free
    ]
    return pairs


def discover_sagemaker(found: Found, f: ClientFactory) -> None:
    serving, warm = endpoints_in(found, f, found.primary), endpoints_in(found, f, found.standby)
    endpoints: dict[str, list[Any]] = {found.primary: [], found.standby: []}
    for active_name, standby_name in pair_endpoints(found, serving, warm):
        variants = [
            {
                "variant_name": name,
                "standby_instance_count": warm[standby_name][name][0],
                "active_instance_count": max(count, warm[standby_name][name][0]),
                "active_weight": weight,
            }
            for name, (count, weight) in sorted(serving[active_name].items())
            if name in warm[standby_name]
        ]
        endpoints[found.primary].append({"endpoint_name": active_name, "variants": variants})
        endpoints[found.standby].append({"endpoint_name": standby_name, "variants": variants})
    if not endpoints[found.primary]:
        found.missing.append(f"a pair of SageMaker endpoints, one in {found.primary} and one in {found.standby}")
    else:
        found.review.append(
            "sagemaker: each variant's instance counts are what runs now (the primary's as active, the standby's as "
            "standby), and its weight the primary's now"
        )
    found.doc["sagemaker"] = {
        "endpoints": {r: e[0] if len(e) == 1 else e for r, e in endpoints.items()},
        "artifact_buckets": artifact_buckets(found, f),
        "image_repository": image_repository(found, f),
    }


def artifact_buckets(found: Found, f: ClientFactory) -> dict[str, str]:
    """One tagged bucket in each region (by GetBucketLocation); the primary's should replicate to the standby's."""
    names = sorted({arn.split(":::", 1)[-1] for r in found.regions for arn in tagged_arns(found, f, r, "s3")})
    by_region: dict[str, list[str]] = {}
    for name in names:
        by_region.setdefault(s3.bucket_region(f, found.primary, name), []).append(name)
    buckets = {}
    for region in found.regions:
        if not by_region.get(region):
            found.missing.append(f"an artifact bucket in {region}")
            continue
        buckets[region] = by_region[region][0]
        if len(by_region[region]) > 1:
            found.review.append(
                f"sagemaker.artifact_buckets.{region}: {len(by_region[region])} tagged; {buckets[region]} chosen"
            )
    if len(buckets) == 2:
        replication_note(found, f, buckets)
    return buckets


def replication_note(found: Found, f: ClientFactory, buckets: dict[str, str]) -> None:
    try:
        destinations = s3.replication_destinations(f, found.primary, buckets[found.primary])
    except StepFailed as exc:
        if not isinstance(exc.__cause__, ClientError) or error_code(exc.__cause__) != NO_REPLICATION:
            raise
        destinations = set()
    if buckets[found.standby] not in destinations:
        found.review.append(
            f"sagemaker.artifact_buckets: {buckets[found.primary]} does not replicate to {buckets[found.standby]}: "
            f"the standby's models must get there another way"
        )


def image_repository(found: Found, f: ClientFactory) -> str:
    """The tagged ECR repository of the same name in both regions (or copied there by registry replication)."""
    names = {r: {a.split("/", 1)[-1] for a in tagged_arns(found, f, r, "ecr:repository")} for r in found.regions}
    both = sorted(names[found.primary] & names[found.standby])
    if not both:
        found.missing.append(f"an ECR repository of the same name in {found.primary} and {found.standby}")
        return ""
    if len(both) > 1:
        found.review.append(f"sagemaker.image_repository: {len(both)} repositories in both regions; {both[0]} chosen")
    registry = call(f"DescribeRegistry in {found.primary}", f.client("ecr", found.primary).describe_registry)
    copied = {
        d.get("region")
        for rule in registry.get("replicationConfiguration", {}).get("rules", [])
        for d in rule.get("destinations", [])
    }
    if found.standby not in copied:
        found.review.append(
            f"sagemaker.image_repository: registry replication does not copy {found.primary}'s images to "
            f"{found.standby}: push each image to both (readiness checks it is there)"
        )
    return both[0]


# --- Route 53 ------------------------------------------------------------------------------------------------------


def discover_route53(found: Found, f: ClientFactory, name_servers: list[str] | None) -> None:
    r53 = f.route53(ROUTE53_REGION)
    zones = []
    for zone in pages("ListHostedZones", r53, "list_hosted_zones", "HostedZones"):
        zone_id = zone["Id"].rsplit("/", 1)[-1]
        tags = call(
            f"ListTagsForResource {zone_id}", r53.list_tags_for_resource, ResourceType="hostedzone", ResourceId=zone_id
        )
        if found.tagged(tags["ResourceTagSet"].get("Tags")):
            zones.append(zone_id)
    if not zones:
        found.missing.append("a Route 53 hosted zone")
        return
    if len(zones) > 1:
        found.review.append(f"route53: {len(zones)} tagged zones; {zones[0]} chosen")
    zone_id = zones[0]
    if name_servers is None:
        zone = call(f"GetHostedZone {zone_id}", r53.get_hosted_zone, Id=zone_id)
        name_servers = [ns.rstrip(".") for ns in zone.get("DelegationSet", {}).get("NameServers", [])]
    records, mode, policy, weight = route53_records(found, f, zone_id)
    if not records:
        found.missing.append(
            f"records of zone {zone_id} with one answer set in each of {found.primary} and {found.standby}"
        )
    found.doc["route53"] = {
        "hosted_zone_id": zone_id,
        "mode": mode,
        "routing_policy": policy,
        "active_weight": weight,
        "name_servers": name_servers,
        "records": records,
    }


def record_region(found: Found, rrs: dict[str, Any], checks: dict[str, Any]) -> tuple[str | None, str]:
    """The region a record set's answers lead to, and how that is known: ``latency``, ``claim`` (it carries a traffic
    claim check: data-plane DNS) or ``named`` (a guess from names).

    A latency record names it; a record carrying a claim check (`failoverctl dns setup`) leads to the region the
    check does not follow; else the one region its answers or its health check's name say."""
    if rrs.get("Region") in found.regions:
        return rrs["Region"], "latency"
    check = checks.get(rrs.get("HealthCheckId", ""), {})
    alarm = check.get("AlarmIdentifier", {})
    if check.get("Type") == "CLOUDWATCH_METRIC" and alarm.get("Name") == claim_alarm_name(found.application):
        return (found.other(alarm["Region"]) if alarm.get("Region") in found.regions else None), "claim"
    said = " ".join(
        [v["Value"] for v in rrs.get("ResourceRecords", [])]
        + [rrs.get("AliasTarget", {}).get("DNSName", ""), check.get("FullyQualifiedDomainName", "")]
    )
    named = [r for r in found.regions if any(t in said for t in region_tokens(r))]
    return (named[0] if len(named) == 1 else None), "named"


def route53_records(found: Found, f: ClientFactory, zone_id: str) -> tuple[list[Any], str, str, int]:
    """The records with exactly one answer set for each region; the DNS mode, routing policy and active weight."""
    r53 = f.route53(ROUTE53_REGION)
    sets = [
        rrs
        for rrs in pages(
            f"ListResourceRecordSets {zone_id}",
            r53,
            "list_resource_record_sets",
            "ResourceRecordSets",
            HostedZoneId=zone_id,
        )
        if "SetIdentifier" in rrs and rrs["Type"] in RECORD_TYPES
    ]
    checks = {
        c["Id"]: c["HealthCheckConfig"] for c in pages("ListHealthChecks", r53, "list_health_checks", "HealthChecks")
    }
    grouped: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for rrs in sets:
        region, how = record_region(found, rrs, checks)
        if region is not None:
            grouped.setdefault((rrs["Name"], rrs["Type"]), {}).setdefault(region, []).append(rrs | {"how": how})
    records, chosen = [], []
    for (name, kind), by_region in sorted(grouped.items()):
        entry = record_entry(found, name, kind, by_region)
        if entry is not None:
            records.append(entry)
            chosen += [one for sets_of_region in by_region.values() for one in sets_of_region]
    policy = next((p for key, p in POLICIES if any(key in s for s in chosen)), "weighted")
    weight = max([int(s["Weight"]) for s in chosen if "Weight" in s] or [100])
    if policy == "latency":
        found.review.append("route53.client_subnets: latency records need a subnet of clients near each region")
    guessed = sorted({s["Name"] for s in chosen if s["how"] == "named"})
    if guessed:
        found.review.append(
            f"route53.records: which region each answer set of {', '.join(guessed)} leads to was read from the region "
            "its answers or health check name: check the set identifiers"
        )
    return records, "data_plane" if any(s["how"] == "claim" for s in chosen) else "control_plane", policy, weight


def record_entry(found: Found, name: str, kind: str, by_region: dict[str, list[Any]]) -> dict[str, Any] | None:
    if set(by_region) != set(found.regions) or any(len(v) != 1 for v in by_region.values()):
        found.left_out.append(
            f"record {name} {kind}: not one answer set for each of {found.primary} and {found.standby}"
        )
        return None
    one = {r: v[0] for r, v in by_region.items()}
    values = {r: [v["Value"] for v in one[r].get("ResourceRecords", [])] for r in found.regions}
    return {
        "name": name,
        "type": kind,
        "set_identifiers": {r: one[r]["SetIdentifier"] for r in found.regions},
        "ttl": int(one[found.primary].get("TTL", 60)),
    } | ({"values": values} if all(values.values()) else {})  # an alias record has no values of its own


# --- the alarms --------------------------------------------------------------------------------------------------


def discover_signals(found: Found, f: ClientFactory) -> None:
    """The tagged alarms of both regions (the controller's own traffic claim alarm is not a signal)."""
    alarms = []
    for region in found.regions:
        cw = f.cloudwatch(region)
        for kind in ("MetricAlarm", "CompositeAlarm"):
            for alarm in pages(f"DescribeAlarms in {region}", cw, "describe_alarms", f"{kind}s", AlarmTypes=[kind]):
                if alarm["AlarmName"] == claim_alarm_name(found.application):
                    continue
                tags = call(
                    f"ListTagsForResource {alarm['AlarmName']}",
                    cw.list_tags_for_resource,
                    ResourceARN=alarm["AlarmArn"],
                )
                if found.tagged(tags.get("Tags")):
                    alarms.append({"name": alarm["AlarmName"], "region": region})
    if not alarms:
        found.missing.append(f"an alarm that says {found.primary} is unhealthy")
    quorum = max(1, len(alarms) // 2 + 1) if len(alarms) > 1 else 1
    found.doc["signals"] = {
        "alarms": alarms,
        "quorum": quorum,
        "cooldown_seconds": DEFAULT_COOLDOWN_S,
        "mode": "ungraceful",
        "require_approval": True,
    }
    found.review += [
        f"signals.alarms: every tagged alarm ({len(alarms)}); keep those that mean {found.primary} is unhealthy, "
        "and prefer observers in the standby region",
        f"signals.quorum: {quorum}, a majority of the alarms",
        f"signals.cooldown_seconds: {DEFAULT_COOLDOWN_S}; signals.mode: ungraceful (an alarm quorum presumes the "
        "primary down); signals.require_approval: true, so no automatic run changes anything before a person "
        "approves it: set it false once the plan is reviewed",
    ]


# --- the whole plan, and the drift from one ----------------------------------------------------------------------


def discover(found: Found, f: ClientFactory, name_servers: list[str] | None = None) -> Found:
    """Fill ``found.doc`` with the plan the account shows (valid only when ``found.missing`` is empty)."""
    found.doc.update(
        {
            "plan_version": 1,
            "application": found.application,
            "description": f"{found.application}: discovered from the account by `failoverctl plan discover` "
            "(review what it listed before `failoverctl plan push`)",
            "regions": {"primary": found.primary, "standby": found.standby},
            "objectives": dict(DEFAULT_OBJECTIVES),
        }
    )
    found.review.append(
        f"objectives: rto_seconds {DEFAULT_OBJECTIVES['rto_seconds']}, rpo_seconds {DEFAULT_OBJECTIVES['rpo_seconds']} "
        "(defaults: set the application's own)"
    )
    discover_signals(found, f)
    discover_aurora(found, f)
    discover_dynamodb(found, f)
    discover_sagemaker(found, f)
    discover_route53(found, f, name_servers)
    found.review.append(
        "sagemaker.drain_source, prewarm_seconds, traffic_at_capacity; controller: left out, so their defaults "
        "apply (docs/plan.md)"
    )
    return found


def identifiers(doc: dict[str, Any]) -> set[str]:
    """Every resource a plan (or a partial discovery) names, one line each: what drift is measured on; not counts,
    weights or defaults, which change without anything being added or removed."""
    aurora, dynamodb, sm = doc.get("aurora", {}), doc.get("dynamodb", {}), doc.get("sagemaker", {})
    out = {f"Aurora global cluster {aurora['global_cluster_id']}"} if aurora else set()
    out |= {f"Aurora cluster {c} ({r})" for r, c in aurora.get("clusters", {}).items()}
    out |= {f"DynamoDB table {t}" for t in dynamodb.get("tables", [])}
    out |= {f"SSM parameter {p}" for p in [dynamodb.get("write_region_parameter")] if p}
    for region, value in sm.get("endpoints", {}).items():
        for e in endpoint_list(value):
            out.add(f"SageMaker endpoint {e['endpoint_name']} ({region})")
            out |= {f"SageMaker variant {e['endpoint_name']}/{v['variant_name']} ({region})" for v in e["variants"]}
    out |= {f"S3 bucket {b} ({r})" for r, b in sm.get("artifact_buckets", {}).items()}
    out |= {f"ECR repository {r}" for r in [sm.get("image_repository")] if r}
    route53 = doc.get("route53", {})
    out |= {f"Route 53 zone {z.rsplit('/', 1)[-1]}" for z in [route53.get("hosted_zone_id")] if z}
    for record in route53.get("records", []):
        out |= {
            f"Route 53 record {record['name'].rstrip('.')}. {record['type']} set {sid} ({r})"
            for r, sid in record["set_identifiers"].items()
        }
    out |= {f"CloudWatch alarm {a['name']} ({a['region']})" for a in doc.get("signals", {}).get("alarms", [])}
    return out


def drift(plan_doc: dict[str, Any], found: Found) -> tuple[list[str], list[str]]:
    """(what the account has and the plan lacks, what the plan names and the account does not show)."""
    seen, named = identifiers(found.doc), identifiers(plan_doc)
    return sorted(seen - named), sorted(named - seen)


# --- the command -------------------------------------------------------------------------------------------------


def tag_filter(text: str) -> tuple[str, str]:
    """--tag KEY=VALUE: one more tag the application's resources carry (an environment, say)."""
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"{inputs.escaped(repr(text))} is not KEY=VALUE")
    return key, value


def application_name(text: str) -> str:
    if not PLAN_NAME.match(text):
        raise argparse.ArgumentTypeError(
            f"{inputs.escaped(repr(text))} is not an application name (lower-case letters, digits and hyphens)"
        )
    return text


def _checked_plan(args: argparse.Namespace) -> RecoveryPlan | None:
    """--check PLAN: a plan file, or (with --region) the plan of that name stored there, as the controller reads it."""
    if not args.check:
        return None
    if Path(args.check).is_file():
        return load_plan_file(args.check)
    if not args.region:
        raise CommandError(f"--check {args.check}: no such plan file (a stored plan's name needs --region)")
    return PlanStore(args.prefix, args.region, factory_for(args), max_age=0).load(args.check)


def _target(args: argparse.Namespace) -> tuple[Found, dict[str, Any] | None]:
    """The application and regions to discover: given, or (with --check) the plan's."""
    checked = _checked_plan(args)
    application = args.application or (checked.application if checked else None)
    primary = args.primary or (checked.primary_region if checked else None)
    standby = args.standby or (checked.standby_region if checked else None)
    if not (application and primary and standby):
        raise CommandError("pass --application, --primary and --standby (or --check PLAN, which names them)")
    if primary == standby:
        raise CommandError(f"--primary and --standby are both {primary}: a plan needs two regions")
    tags = {APPLICATION_TAG: application} | dict(args.tag or [])
    return Found(application, primary, standby, tags), checked.document if checked else None


def _say(out: IO[str], title: str, lines: list[str]) -> None:
    if lines:
        out.write(f"{title}:\n" + "".join(f"  - {line}\n" for line in lines))


def _say_notes(found: Found, out: IO[str]) -> None:
    _say(out, "not found (the plan needs it)", found.missing)
    _say(out, LEFT_OUT, found.left_out)
    _say(out, "for review (a default or a guess)", found.review)


def command(args: argparse.Namespace, out: IO[str]) -> int:
    """`failoverctl plan discover`: write the plan the account shows, or (--check) the drift from one."""
    found, checked = _target(args)
    discover(found, factory_for(args), kept_name_server() if args.local else None)
    if checked is not None:
        return _check(args.check, checked, found, out)
    notes = out if args.out else sys.stderr
    if not found.missing:
        try:
            parse_plan(found.doc)
        except PlanInvalid as exc:
            found.missing += [f"a valid plan: {problem}" for problem in exc.problems]
    _say_notes(found, notes)
    if found.missing:
        notes.write(
            f"no plan written: {len(found.missing)} part(s) of {found.application} not found (tagged "
            f"{', '.join(f'{k}={v}' for k, v in found.tags.items())})\n"
        )
        return 1
    text = json.dumps(found.doc, indent=2) + "\n"
    if not args.out:
        out.write(text)
    else:
        inputs.write_text(args.out, text)
        out.write(
            f"{args.out}: a valid plan for {found.application} ({found.primary} -> {found.standby}), "
            f"{len(identifiers(found.doc))} resources\n"
        )
    where = args.out or "PLAN"
    notes.write(
        f"before `failoverctl plan push`: review the lines above and edit {where}; then `failoverctl plan validate "
        f"{where}`, and after the push `failoverctl readiness {found.application} --region {found.standby}`\n"
    )
    return 0


def _check(path: str, plan_doc: dict[str, Any], found: Found, out: IO[str]) -> int:
    extra, gone = drift(plan_doc, found)
    _say(out, LEFT_OUT, found.left_out)
    if not extra and not gone:
        out.write(
            f"{path}: no drift: the account's {found.application} is what the plan names "
            f"({len(identifiers(plan_doc))} resources)\n"
        )
        return 0
    out.write(f"{path}: drift from the account's {found.application}:\n")
    out.writelines(f"  + the account has, the plan lacks: {line}\n" for line in extra)
    out.writelines(
        f"  - the plan names, the account shows no such resource tagged {APPLICATION_TAG}={found.application}: {line}\n"
        for line in gone
    )
    return 1
