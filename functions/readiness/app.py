"""Lambda handler of the scheduled readiness check: every plan's preflight, as metrics; changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from failover_controller import readiness
from failover_controller.clients import clients
from failover_controller.config import readiness_config
from failover_controller.observability import logger, tracer

if TYPE_CHECKING:  # the import costs cold-start time for an annotation
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return readiness.run(readiness_config(), clients)
