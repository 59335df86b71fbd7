"""ECR: whether an image is in a registry of the plan's account, in a region."""

from __future__ import annotations

from typing import Any

from failover_controller.aws import call
from failover_controller.reads import Scope


def describe_image(
    scope: Scope, region: str, account: str, repository: str, image_id: dict[str, str]
) -> dict[str, Any]:
    """The image's details. A missing image is ``ImageNotFoundException`` (a failing call): DescribeImages never
    answers an image id it cannot find with an empty list."""
    found = call(
        f"ECR image {repository} {image_id} in {region}",
        scope.clients.client("ecr", region).describe_images,
        registryId=account,
        repositoryName=repository,
        imageIds=[image_id],
    )
    details: dict[str, Any] = found["imageDetails"][0]
    return details
