"""ECR: whether an image is in a registry of the plan's account, in a region."""

from __future__ import annotations

from failover_controller.aws import call
from failover_controller.reads import Scope


def image_present(scope: Scope, region: str, account: str, repository: str, image_id: dict[str, str]) -> bool:
    found = call(
        f"ECR image {repository} {image_id} in {region}",
        scope.clients.client("ecr", region).describe_images,
        registryId=account,
        repositoryName=repository,
        imageIds=[image_id],
    )
    return bool(found.get("imageDetails"))
