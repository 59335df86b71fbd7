"""What the standby endpoints need from their own region: their images in that region's ECR, their model artifacts
in that region's bucket, and (graceful) the source's artifact bucket replicating there. Only what the plan's
account owns is checked: AWS-owned images (Deep Learning Containers, JumpStart) and buckets are skipped."""

from __future__ import annotations

import re
from functools import partial

from failover_controller.checks import guarded, skipped_ungraceful, unanswered
from failover_controller.errors import PreconditionFailed, StepFailed, TransientAwsError
from failover_controller.reads import ecr, s3, sagemaker
from failover_controller.results import Check
from failover_controller.steps.base import StepRequest

Containers = dict[str, list[dict[str, str]]]
_ECR_URI = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr(-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repo>[^:@]+)(:(?P<tag>[^@]+))?(@(?P<digest>.+))?$"
)


def checks(req: StepRequest) -> list[Check]:
    region = req.target_region
    out: list[Check] = []
    containers: Containers = {}
    for endpoint in req.plan.endpoints[region]:
        try:
            variants = sagemaker.containers_of(req, region, endpoint.endpoint_name)
        except (PreconditionFailed, StepFailed) as exc:
            out.append(Check("model.artifacts", endpoint.endpoint_name, None, "readable", "fail", exc.message))
            continue
        except TransientAwsError as exc:
            out.append(unanswered("model.artifacts", endpoint.endpoint_name, "readable", exc))
            continue
        containers |= {f"{endpoint.endpoint_name}/{v}": items for v, items in variants.items()}
    for item in (item for items in containers.values() for item in items):
        out.append(guarded("ecr.image_in_target_region", item["image"], region, partial(_image, req, item)))
        if item["model_data"]:
            out.append(
                guarded("s3.model_artifacts_present", item["model_data"], "exists", partial(_artifact, req, item))
            )
    out.append(_replication_check(req, containers))
    return out


def _image(req: StepRequest, item: dict[str, str]) -> Check:
    name, image = "ecr.image_in_target_region", item["image"]
    match = _ECR_URI.match(image)
    if not match:
        return Check(name, image, None, req.target_region, "skipped", "not an ECR image")
    if item["account"] and match["account"] != item["account"]:
        # DescribeImages on another account's registry is denied; its owner serves the image in every region.
        detail = (
            f"the image belongs to account {match['account']}, not the plan's ({item['account']}): "
            "its owner serves it; not checked"
        )
        return Check(name, image, match["account"], item["account"], "skipped", detail)
    if match["region"] != req.target_region:
        detail = f"the image is pulled from {match['region']}'s registry, which fails with that region"
        return Check(name, image, match["region"], req.target_region, "fail", detail)
    image_id = {"imageDigest": match["digest"]} if match["digest"] else {"imageTag": match["tag"] or "latest"}
    ecr.describe_image(req, req.target_region, match["account"], match["repo"], image_id)
    return Check(name, image, "present", "present", "pass")


def _artifact(req: StepRequest, item: dict[str, str]) -> Check:
    name, url = "s3.model_artifacts_present", item["model_data"]
    bucket, _, key = url.removeprefix("s3://").partition("/")
    own, wanted = req.plan.artifact_buckets, req.plan.artifact_buckets[req.target_region]
    if bucket not in own.values():
        detail = (
            f"s3://{bucket} is not one of the plan's artifact buckets (a JumpStart or other account's bucket): "
            "its owner serves it; not checked"
        )
        return Check(name, url, bucket, wanted, "skipped", detail)
    if bucket != wanted:
        region = next(r for r, b in own.items() if b == bucket)
        return Check(name, url, bucket, wanted, "fail", f"the artifact is read from {region}'s bucket")
    region = s3.bucket_region(req.clients, req.target_region, bucket)
    if region != req.target_region:
        return Check(name, url, region, req.target_region, "fail", f"s3://{bucket} lives in {region}")
    return Check(name, url, s3.object_size(req, req.target_region, bucket, key), "exists", "pass")


def buckets(containers: Containers) -> set[str]:
    return {
        c["model_data"].removeprefix("s3://").partition("/")[0]
        for items in containers.values()
        for c in items
        if c["model_data"]
    }


def _replication_check(req: StepRequest, containers: Containers) -> Check:
    name, resource = "s3.artifacts_replicate_to_target", req.plan.artifact_buckets[req.source_region]
    if not req.graceful:
        return skipped_ungraceful(name, resource, "replication rule", req.source_region)
    return guarded(name, resource, "replication rule to the target bucket", partial(_replication, req, containers))


def _replication(req: StepRequest, target_containers: Containers) -> Check:
    own = set(req.plan.artifact_buckets.values())
    target_buckets = buckets(target_containers) & own
    source_buckets = own & {
        bucket
        for endpoint in req.plan.endpoints[req.source_region]
        for bucket in buckets(sagemaker.containers_of(req, req.source_region, endpoint.endpoint_name))
    }
    missing = []
    for bucket in sorted(source_buckets):
        destinations = s3.replication_destinations(req.clients, req.source_region, bucket)
        missing += [f"s3://{bucket} -> s3://{t}" for t in sorted(target_buckets - destinations - {bucket})]
    detail = f"no enabled replication rule: {', '.join(missing)}" if missing else ""
    return Check(
        "s3.artifacts_replicate_to_target",
        ",".join(sorted(source_buckets)),
        sorted(target_buckets),
        "replicated",
        "fail" if missing else "pass",
        detail,
    )
