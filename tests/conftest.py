"""Hermetic tests: fake credentials in a cleared environment, powertools and client caches reset."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from aws_lambda_powertools.utilities import parameters

from failover_controller import config as function_config
from failover_controller import plan_store
from failover_controller.clients import ClientFactory, clients
from failover_controller.observability import metrics
from failoverctl.drill import emulators, moto_as_aws
from tests.support.events import sample_plan_doc
from tests.support.lambda_context import FakeContext

HOME_REGION = "us-west-2"
moto_as_aws.patch()  # in-process moto keeps what an update omits, as SageMaker does

# botocore's service models and endpoint data, parsed once for the session rather than once per boto3 Session
# (about 0.3 s each): they are read-only.
_SHARED_LOADER = botocore.loaders.create_loader()


def _register_shared_data_loader(self: botocore.session.Session) -> None:
    self._components.lazy_register_component("data_loader", lambda: _SHARED_LOADER)  # type: ignore[attr-defined]


botocore.session.Session._register_data_loader = _register_shared_data_loader  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith(("AWS_", "POWERTOOLS_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", HOME_REGION)
    monkeypatch.setenv("AWS_REGION", HOME_REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_DEV", "0")
    _reset_caches()
    yield
    _reset_caches()


def _reset_caches() -> None:
    clients.clear()
    plan_store.clear_cache()
    function_config.clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    metrics.clear_metrics()
    metrics.clear_default_dimensions()


@pytest.fixture(scope="session")
def emulator_pair() -> Iterator[emulators.Emulators]:
    """One ministack + moto_server for the whole session, on 127.0.0.1, stopped at the end."""
    pair = emulators.start()
    try:
        yield pair
    finally:
        pair.stop()


@pytest.fixture
def plan_doc() -> dict[str, Any]:
    return sample_plan_doc()


@pytest.fixture
def factory() -> ClientFactory:
    return ClientFactory()


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()
