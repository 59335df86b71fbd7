"""One ministack + moto_server pair for the whole session; each test starts from an empty world."""

from __future__ import annotations

from typing import Any

import pytest

from failover_controller.clients import ClientFactory, clients
from failover_controller.plan import RecoveryPlan
from failoverctl.drill import emulators, world


@pytest.fixture(scope="session")
def emulator_clients() -> ClientFactory:
    """Clients are slow to build; the endpoints do not change within a session, so the tests share them."""
    return ClientFactory()


@pytest.fixture
def emulated(
    emulator_pair: emulators.Emulators, emulator_clients: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> ClientFactory:
    emulator_pair.reset()
    if emulator_clients.home_region is not None:  # a handler test began an invocation: its peer budget ends here
        emulator_clients.end()
    for key, value in emulator_pair.endpoint_env().items():
        monkeypatch.setenv(key, value)
    clients.clear()
    return emulator_clients


@pytest.fixture
def app(emulated: ClientFactory, plan_doc: dict[str, Any]) -> RecoveryPlan:
    """The sample plan's application, primary serving, standby warm; returns the plan as deployed."""
    return world.build(plan_doc, emulated)
