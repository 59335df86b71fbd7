"""S3: where a bucket lives, whether an object exists, and where a bucket replicates to."""

from __future__ import annotations

from failover_controller.aws import call
from failover_controller.clients import ClientFactory
from failover_controller.reads import Scope


def bucket_region(clients: ClientFactory, region: str, bucket: str) -> str:
    """Where the bucket lives (GetBucketLocation: no constraint is us-east-1, the legacy "EU" is eu-west-1).

    A client of one region follows S3's redirect to a bucket in any other, so only this says where it is."""
    location = call(
        f"location of s3://{bucket}",
        clients.client("s3", region).get_bucket_location,
        Bucket=bucket,
    ).get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, str(location))


def object_size(scope: Scope, region: str, bucket: str, key: str) -> int | None:
    head = call(f"s3://{bucket}/{key}", scope.clients.client("s3", region).head_object, Bucket=bucket, Key=key)
    size = head.get("ContentLength")
    return int(size) if size is not None else None


def replication_destinations(clients: ClientFactory, region: str, bucket: str) -> set[str]:
    """The buckets ``bucket`` replicates to with an enabled rule."""
    config = call(
        f"replication of s3://{bucket}",
        clients.client("s3", region).get_bucket_replication,
        Bucket=bucket,
    )["ReplicationConfiguration"]
    return {
        r["Destination"]["Bucket"].rsplit(":", 1)[-1] for r in config.get("Rules", []) if r.get("Status") == "Enabled"
    }
