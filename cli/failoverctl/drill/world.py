"""The simulated AI application of a plan, built in emulated AWS (drills, tests), and read back independently.

The primary region serves: Aurora writer, write-region parameter, endpoint at active capacity, DNS weight.
The standby is warm: Aurora secondary, DynamoDB replicas, endpoint at standby capacity, DNS weight 0.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from failover_controller.clients import ClientFactory
from failover_controller.errors import TransientAwsError
from failover_controller.names import (
    APPLICATION_TAG,
    CLAIM_METRIC,
    CLAIM_NAMESPACE,
    DEFAULT_PLAN_PREFIX,
    arn_region,
    claim_alarm_name,
    claim_dimensions,
)
from failover_controller.plan import Endpoint, RecoveryPlan, Variant, parse_plan
from failover_controller.plan_store import push_plan
from failover_controller.reads import cloudwatch
from failover_controller.reads import dns as dns_reads
from failoverctl import dns as dns_setup

PLAN_PREFIX = DEFAULT_PLAN_PREFIX
ACCOUNT = "123456789012"
MODEL_TAG = "2026-11-01"


def image_uri(region: str, tag: str = MODEL_TAG) -> str:
    return f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/recsys-ranker:{tag}"


def tags(application: str) -> list[Any]:
    """The application's tag, as docs/plan.md tells users to put on every resource of the plan."""
    return [{"Key": APPLICATION_TAG, "Value": application}]


def create_aurora(plan: RecoveryPlan, f: ClientFactory) -> None:
    primary = f.rds(plan.primary_region).create_db_cluster(
        DBClusterIdentifier=plan.aurora_clusters[plan.primary_region],
        Engine="aurora-postgresql",
        MasterUsername="recsys",
        MasterUserPassword="not-a-secret-0",
        Tags=tags(plan.application),
    )["DBCluster"]
    f.rds(plan.primary_region).create_global_cluster(
        GlobalClusterIdentifier=plan.global_cluster_id,
        SourceDBClusterIdentifier=primary["DBClusterArn"],
        Tags=tags(plan.application),
    )
    f.rds(plan.standby_region).create_db_cluster(
        DBClusterIdentifier=plan.aurora_clusters[plan.standby_region],
        Engine="aurora-postgresql",
        GlobalClusterIdentifier=plan.global_cluster_id,
        Tags=tags(plan.application),
    )


def put_replication_lag(plan: RecoveryPlan, f: ClientFactory, region: str, lag_ms: float) -> None:
    """The secondary's lag as Aurora PostgreSQL publishes it in the secondary's region: AuroraGlobalDBRPOLag and
    AuroraGlobalDBReplicationLag under {DBClusterIdentifier, SourceRegion}, never DBClusterIdentifier alone."""
    dimensions: list[Any] = [
        {"Name": "DBClusterIdentifier", "Value": plan.aurora_clusters[region].lower()},
        {"Name": "SourceRegion", "Value": plan.other_region(region)},
    ]
    f.cloudwatch(region).put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": dimensions,
                "Value": lag_ms,
                "Unit": "Milliseconds",
                "Timestamp": datetime.now(UTC),
            }
            for metric in ("AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag")
        ],
    )


def put_replication_latency(plan: RecoveryPlan, f: ClientFactory, receiving_region: str, latency_ms: float) -> None:
    """DynamoDB's ReplicationLatency toward ``receiving_region``, published in the other (sending) region."""
    sending = plan.other_region(receiving_region)
    f.cloudwatch(sending).put_metric_data(
        Namespace="AWS/DynamoDB",
        MetricData=[
            {
                "MetricName": "ReplicationLatency",
                "Dimensions": [
                    {"Name": "TableName", "Value": table},
                    {"Name": "ReceivingRegion", "Value": receiving_region},
                ],
                "Value": latency_ms,
                "Unit": "Milliseconds",
                "Timestamp": datetime.now(UTC),
            }
            for table in plan.dynamodb_tables
        ],
    )


def create_dynamodb(plan: RecoveryPlan, f: ClientFactory) -> None:
    for table in plan.dynamodb_tables:
        create_global_table(plan, f, table)


def create_table(plan: RecoveryPlan, f: ClientFactory, table: str) -> None:
    """A table of the application, created (and tagged) in the primary only."""
    f.dynamodb(plan.primary_region).create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        Tags=tags(plan.application),
    )


def create_global_table(plan: RecoveryPlan, f: ClientFactory, table: str) -> None:
    """A global table of the application: created (and tagged) in the primary, with a replica in the standby."""
    create_table(plan, f, table)
    f.dynamodb(plan.primary_region).update_table(
        TableName=table, ReplicaUpdates=[{"Create": {"RegionName": plan.standby_region}}]
    )


def create_write_region_parameter(plan: RecoveryPlan, f: ClientFactory) -> None:
    for region in plan.regions:
        ssm = f.ssm(region)
        ssm.put_parameter(Name=plan.write_region_parameter, Value=plan.primary_region, Type="String", Overwrite=True)
        # PutParameter refuses Tags with Overwrite: the tag is added on its own.
        ssm.add_tags_to_resource(
            ResourceType="Parameter", ResourceId=plan.write_region_parameter, Tags=tags(plan.application)
        )


def artifact_bucket(region: str) -> str:
    return f"recsys-models-{region}"


def model_data_url(region: str) -> str:
    return f"s3://{artifact_bucket(region)}/ranker/{MODEL_TAG}/model.tar.gz"


def create_model_artifacts(plan: RecoveryPlan, f: ClientFactory, *, standby_tag: str = MODEL_TAG) -> None:
    """Each region's artifact bucket (replicating to the other one) with the model, and its ECR repository
    with the images its endpoint serves: what the standby needs from its own region on the day."""
    for region in plan.regions:
        s3 = f.client("s3", region)
        bucket = artifact_bucket(region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags(plan.application)})
        s3.put_object(Bucket=bucket, Key=model_data_url(region).split("/", 3)[3], Body=b"model weights")
        ecr = f.client("ecr", region)
        ecr.create_repository(repositoryName="recsys-ranker", tags=tags(plan.application))
        image_tags = {MODEL_TAG} | ({standby_tag} if region == plan.standby_region else set())
        for tag in sorted(image_tags):
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"digest": f"sha256:{tag.replace('-', '') * 8}"[:71], "size": 1},
                "layers": [],
            }
            ecr.put_image(repositoryName="recsys-ranker", imageManifest=json.dumps(manifest), imageTag=tag)
    for region in plan.regions:
        other = plan.other_region(region)
        f.client("s3", region).put_bucket_replication(
            Bucket=artifact_bucket(region),
            ReplicationConfiguration={
                "Role": f"arn:aws:iam::{ACCOUNT}:role/recsys-artifact-replication",
                "Rules": [
                    {
                        "ID": f"to-{other}",
                        "Status": "Enabled",
                        "Priority": 1,
                        "Filter": {"Prefix": ""},
                        "DeleteMarkerReplication": {"Status": "Disabled"},
                        "Destination": {"Bucket": f"arn:aws:s3:::{artifact_bucket(other)}"},
                    }
                ],
            },
        )


def create_sagemaker(plan: RecoveryPlan, f: ClientFactory, *, standby_tag: str = MODEL_TAG) -> None:
    for region, endpoints in plan.endpoints.items():
        for endpoint in endpoints:
            _create_endpoint(plan, f, region, endpoint, standby_tag)


def _create_endpoint(plan: RecoveryPlan, f: ClientFactory, region: str, endpoint: Endpoint, standby_tag: str) -> None:
    sm = f.sagemaker(region)
    active = region == plan.primary_region
    model = f"{endpoint.endpoint_name}-model"
    sm.create_model(
        ModelName=model,
        PrimaryContainer={
            "Image": image_uri(region, MODEL_TAG if active else standby_tag),
            "ModelDataUrl": model_data_url(region),
        },
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/recsys-sagemaker",
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{endpoint.endpoint_name}-config",
        ProductionVariants=[
            {
                "VariantName": v.variant_name,
                "ModelName": model,
                "InstanceType": "ml.g4dn.xlarge",
                "InitialInstanceCount": v.active_instance_count if active else v.standby_instance_count,
                "InitialVariantWeight": v.active_weight,
            }
            for v in endpoint.variants
        ],
    )
    sm.create_endpoint(
        EndpointName=endpoint.endpoint_name,
        EndpointConfigName=f"{endpoint.endpoint_name}-config",
        Tags=tags(plan.application),
    )


def autoscale_standby(plan: RecoveryPlan, f: ClientFactory) -> None:
    """The standby's variants autoscaled between their standby and active counts, as a warm standby often is: the
    runbook's scale-up then goes through Application Auto Scaling's MinCapacity."""
    region = plan.standby_region
    for endpoint in plan.endpoints[region]:
        for v in endpoint.variants:
            f.client("application-autoscaling", region).register_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=f"endpoint/{endpoint.endpoint_name}/variant/{v.variant_name}",
                ScalableDimension="sagemaker:variant:DesiredInstanceCount",
                MinCapacity=v.standby_instance_count,
                MaxCapacity=v.active_instance_count,
            )


def create_health_checks(doc: dict[str, Any], f: ClientFactory, region: str) -> dict[str, str]:
    """One HTTPS health check of each region's API, as the records' health checks; by region."""
    checks = {}
    for rg in (doc["regions"]["primary"], doc["regions"]["standby"]):
        created = f.route53(region).create_health_check(
            CallerReference=f"recsys-api-{rg}",
            HealthCheckConfig={
                "Type": "HTTPS",
                "FullyQualifiedDomainName": f"api.{rg}.recsys.internal",
                "Port": 443,
                "ResourcePath": "/health",
                "RequestInterval": 10,
                "FailureThreshold": 3,
            },
        )
        checks[rg] = created["HealthCheck"]["Id"]
    return checks


def record_value(name: str, region: str) -> str:
    """What the sample world's records answer: a name that says its region (``api.us-west-2.recsys.internal``)."""
    return f"{name.split('.', maxsplit=1)[0]}.{region}.recsys.internal"


def create_route53(doc: dict[str, Any], f: ClientFactory, region: str) -> str:
    """Create the zone, the API's health checks and the records; returns the zone id the emulator assigned.

    data_plane: the records are what `failoverctl dns setup` makes (each carries the other region's claim check).
    control_plane: weighted or failover records that carry the API's health checks, changed by the runbook."""
    zone = f.route53(region).create_hosted_zone(Name="recsys.example.com.", CallerReference="recsys-drill")
    zone_id = zone["HostedZone"]["Id"].removeprefix("/hostedzone/")
    f.route53(region).change_tags_for_resource(
        ResourceType="hostedzone", ResourceId=zone_id, AddTags=tags(doc["application"])
    )
    health_checks = create_health_checks(doc, f, region)
    if doc["route53"].get("mode") == "data_plane":
        dns_setup.setup(parse_plan(with_zone(doc, zone_id)), f, apply=True)
        return zone_id
    primary = doc["regions"]["primary"]
    changes: list[Any] = []
    for record in doc["route53"]["records"]:
        for rg, set_id in record["set_identifiers"].items():
            values = record.get("values", {}).get(rg) or [record_value(record["name"], rg)]
            rrs: dict[str, Any] = {
                "Name": record["name"],
                "Type": record["type"],
                "SetIdentifier": set_id,
                "TTL": record.get("ttl", 60),
                "ResourceRecords": [{"Value": v} for v in values],
                "HealthCheckId": health_checks[rg],
            }
            if doc["route53"]["routing_policy"] == "weighted":
                rrs["Weight"] = doc["route53"].get("active_weight", 100) if rg == primary else 0
            else:
                rrs["Failover"] = "PRIMARY" if rg == primary else "SECONDARY"
            changes.append({"Action": "CREATE", "ResourceRecordSet": rrs})
    f.route53(region).change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return zone_id


def health_check_of(plan: RecoveryPlan, f: ClientFactory, region: str) -> str | None:
    """The health check of ``region``'s API (``create_health_checks``)."""
    for check in f.route53(plan.standby_region).list_health_checks()["HealthChecks"]:
        if check["CallerReference"] == f"recsys-api-{region}":
            return str(check["Id"])
    return None


def create_alarms(plan: RecoveryPlan, f: ClientFactory, health_check: str | None = None) -> None:
    """The plan's signals as CloudWatch alarms, each in its region: synthetic canaries watching the primary
    from the standby, and (given the primary's health check) the alarm on its HealthCheckStatus, which
    Route 53 publishes in us-east-1 only."""
    for signal in plan.signals:
        if "health-check" in signal.name and health_check:
            metric: dict[str, Any] = {
                "Namespace": "AWS/Route53",
                "MetricName": "HealthCheckStatus",
                "Dimensions": [{"Name": "HealthCheckId", "Value": health_check}],
            }
        else:
            metric = {
                "Namespace": "CloudWatchSynthetics",
                "MetricName": "SuccessPercent",
                "Dimensions": [{"Name": "CanaryName", "Value": signal.name}],
            }
        f.cloudwatch(signal.region).put_metric_alarm(
            AlarmName=signal.name,
            Statistic="Minimum",
            Period=60,
            EvaluationPeriods=3,
            Threshold=1.0,
            ComparisonOperator="LessThanThreshold",
            Tags=tags(plan.application),
            **metric,
        )


def create_ledger_table(f: ClientFactory, region: str, name: str) -> None:
    """The controller's ledger table, keyed as template.yaml's LedgerTable, for tests that run without a stack."""
    f.dynamodb(region).create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )


def store_plan(plan: RecoveryPlan, f: ClientFactory) -> None:
    """As `failoverctl plan push` does before each deploy, in both regions."""
    for region in plan.regions:
        push_plan(plan, prefix=PLAN_PREFIX, region=region, factory=f)


def with_zone(doc: dict[str, Any], zone_id: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["route53"]["hosted_zone_id"] = zone_id
    return out


def with_name_servers(doc: dict[str, Any], name_servers: list[str]) -> dict[str, Any]:
    """The plan as the emulated world serves it: its zone's name servers are the emulator's DNS, and every record
    says what each region answers (the world's own values)."""
    out = copy.deepcopy(doc)
    out["route53"]["name_servers"] = list(name_servers)
    for record in out["route53"]["records"]:
        record.setdefault("values", {rg: [record_value(record["name"], rg)] for rg in record["set_identifiers"]})
    return out


def build(
    doc: dict[str, Any],
    f: ClientFactory,
    *,
    lag_ms: float | None = 120.0,
    standby_model_tag: str = MODEL_TAG,
    store: bool = True,
    aurora_and_tables: bool = True,
    name_servers: list[str] | None = None,
) -> RecoveryPlan:
    """The whole application of ``doc`` (the sample plan by default), returning the plan as deployed.

    ``aurora_and_tables=False``: the Aurora global database and the global tables are not created, for a test
    world that answers RDS and DescribeTable itself (tests/support). ``name_servers``: the emulated DNS, which the
    plan then names as its zone's name servers (``with_name_servers``).
    """
    if name_servers:
        doc = with_name_servers(doc, name_servers)
    plan = parse_plan(doc)
    zone_id = create_route53(doc, f, plan.standby_region)
    plan = parse_plan(with_zone(doc, zone_id))
    if aurora_and_tables:
        create_aurora(plan, f)
        create_dynamodb(plan, f)
    create_write_region_parameter(plan, f)
    create_model_artifacts(plan, f, standby_tag=standby_model_tag)
    create_sagemaker(plan, f, standby_tag=standby_model_tag)
    if lag_ms is not None:
        put_replication_lag(plan, f, plan.standby_region, lag_ms)
        put_replication_latency(plan, f, plan.standby_region, 350.0)
    if store:
        store_plan(plan, f)
    return plan


def aurora_writer_region(plan: RecoveryPlan, f: ClientFactory, region: str) -> str | None:
    gc = f.rds(region).describe_global_clusters(GlobalClusterIdentifier=plan.global_cluster_id)["GlobalClusters"][0]
    return arn_region(next((m["DBClusterArn"] for m in gc["GlobalClusterMembers"] if m["IsWriter"]), None))


def write_region(plan: RecoveryPlan, f: ClientFactory, region: str) -> str | None:
    try:
        return f.ssm(region).get_parameter(Name=plan.write_region_parameter)["Parameter"]["Value"]
    except f.ssm(region).exceptions.ParameterNotFound:
        return None


def variant_key(plan: RecoveryPlan, region: str, endpoint: str, variant: str) -> str:
    """A variant as the world's tables name it: by itself where the region has one endpoint."""
    return variant if len(plan.endpoints[region]) == 1 else f"{endpoint}/{variant}"


def variants_of(plan: RecoveryPlan, region: str) -> dict[str, Variant]:
    return {
        variant_key(plan, region, e.endpoint_name, v.variant_name): v
        for e in plan.endpoints[region]
        for v in e.variants
    }


def endpoint_config(plan: RecoveryPlan, f: ClientFactory, region: str) -> dict[str, tuple[float, int]]:
    """Every variant of the region's endpoints: (current weight, current instance count)."""
    out = {}
    for endpoint in plan.endpoints[region]:
        desc = f.sagemaker(region).describe_endpoint(EndpointName=endpoint.endpoint_name)
        for v in desc["ProductionVariants"]:
            key = variant_key(plan, region, endpoint.endpoint_name, v["VariantName"])
            out[key] = (v["CurrentWeight"], v["CurrentInstanceCount"])
    return out


def dns_routing(plan: RecoveryPlan, f: ClientFactory) -> dict[str, dict[str, Any]]:
    """Per record, per region: its Weight (weighted) or Failover role, as Route 53 reads now."""
    sets = f.route53(plan.standby_region).list_resource_record_sets(HostedZoneId=plan.hosted_zone_id)
    out: dict[str, dict[str, Any]] = {}
    for record in plan.records:
        by_id = {
            r["SetIdentifier"]: r
            for r in sets["ResourceRecordSets"]
            if r["Name"] == record.fqdn and r["Type"] == record.type and "SetIdentifier" in r
        }
        out[record.fqdn] = {
            region: by_id[sid].get("Weight", by_id[sid].get("Failover"))
            for region, sid in record.set_identifiers.items()
        }
    return out


def snapshot(plan: RecoveryPlan, f: ClientFactory) -> dict[str, Any]:
    """Everything a failover changes, read straight from the emulated world."""
    return {
        "aurora_writer": aurora_writer_region(plan, f, plan.standby_region),
        "write_region": {r: write_region(plan, f, r) for r in plan.regions},
        "endpoints": {r: endpoint_config(plan, f, r) for r in plan.regions},
        "dns": dns_answers(plan) if plan.name_servers else dns_routing(plan, f),
    } | ({"claims": claims(plan, f)} if plan.dns_mode == "data_plane" else {})


def claims(plan: RecoveryPlan, f: ClientFactory) -> dict[str, bool]:
    """Which regions claim the plan's traffic, by their claim alarms (what the health checks follow; no alarm: no
    claim)."""
    return {region: bool(cloudwatch.traffic_claim(plan, f, region)["claimed"]) for region in plan.regions}


def dns_answers(plan: RecoveryPlan) -> dict[str, str | None]:
    """Per record, the region whose answers DNS gives now, asked of the zone's name servers (real queries)."""
    try:
        seen = dns_reads.served_from(plan)
    except TransientAwsError as exc:
        return {record.fqdn: f"no answer: {exc.message}" for record in plan.records}
    return {name.split(" ")[0]: answer["region"] for name, answer in seen.items()}


def create_claim_alarm(plan: RecoveryPlan, f: ClientFactory, region: str) -> None:
    """``region``'s traffic claim alarm, as template.yaml's TrafficClaimAlarm defines it, for tests without a stack."""
    f.cloudwatch(region).put_metric_alarm(
        AlarmName=claim_alarm_name(plan.application),
        Namespace=CLAIM_NAMESPACE,
        MetricName=CLAIM_METRIC,
        Dimensions=[{"Name": k, "Value": v} for k, v in claim_dimensions(plan.application).items()],
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="ignore",
    )
