"""A moto world per test: the sample plan in SSM, the ledger table, the topic with a queue subscribed."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover_controller.clients import ClientFactory, clients
from failoverctl.drill import world
from tests.statemachine import harness

# moto logs every failed state at ERROR with its whole parse tree; the tests read the failures themselves.
logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch, plan_doc: dict[str, Any]) -> Iterator[harness.Harness]:
    config: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config):
        world.create_ledger_table(ClientFactory(), harness.REGION, harness.TABLE)
        sns = boto3.client("sns", region_name=harness.REGION)
        topic = sns.create_topic(Name="failover-controller")["TopicArn"]
        sqs = boto3.client("sqs", region_name=harness.REGION)
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        boto3.client("ssm", region_name=harness.REGION).put_parameter(
            Name=f"{world.PLAN_PREFIX}/recsys", Value=json.dumps(plan_doc), Type="String"
        )
        monkeypatch.setenv("LEDGER_TABLE", harness.TABLE)
        monkeypatch.setenv("TOPIC_ARN", topic)
        monkeypatch.setenv("INBOX_QUEUE_URL", queue)
        clients.clear()
        holder: list[harness.Harness] = []
        with_lambda = harness.install(holder)
        next(with_lambda)
        try:
            holder.append(harness.create())
            yield holder[0]
        finally:
            next(with_lambda, None)
