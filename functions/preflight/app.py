"""Lambda handler of the preflight step: a thin shell over the shared package."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from failover_controller.clients import clients
from failover_controller.config import step_config
from failover_controller.handler import run_step
from failover_controller.observability import logger, metrics, tracer

if TYPE_CHECKING:  # the import costs cold-start time for an annotation
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step("preflight", event, step_config(), clients)
