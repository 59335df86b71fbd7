"""A stand-in for the Lambda context the handlers receive."""

from __future__ import annotations


class FakeContext:
    """The parts of LambdaContext that powertools reads."""

    function_name = "failover-controller-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:failover-controller-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
