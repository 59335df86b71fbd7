"""One factory for boto3 clients: explicit region, standard retries, created lazily and cached.

Endpoints come from boto3's own configuration (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``), which
is how the local emulators are wired in without any change here.
"""

from __future__ import annotations

import os
import threading
import time
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_ssm import SSMClient


def user_agent(function: str, region: str = "") -> str:
    """What the clients add to their user agent: the calling function, ``fn/REGION.NAME``, shows in CloudTrail's
    userAgent (and tells the drill's outage proxy whose role to hold a call to: the stacks of both regions give their
    functions the same names)."""
    return "failover-controller" + (f" fn/{region + '.' if region else ''}{function}" if function else "")


USER_AGENT = user_agent(os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""), os.environ.get("AWS_REGION", ""))
DEFAULT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra=USER_AGENT,
)
# The region being failed away from is the one likely to be down or slow: its calls get short timeouts and few
# attempts, and all of one invocation's calls to it share one time budget. Worst case per call: 2 x (3 + 5) s.
PEER_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=3,
    read_timeout=5,
    user_agent_extra=USER_AGENT,
)
PEER_BUDGET_SECONDS = 20.0


class PeerBudgetExhausted(BotoCoreError):
    """The invocation's time for the peer region is spent: the call is not attempted."""

    fmt = "{region} did not answer within this invocation's {budget:.0f} s budget for it; not called"


class ClientFactory:
    """Caches one client per (service, region). Pass a session or config to inject test doubles."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        config: Config | None = None,
        endpoints: dict[str, str] | None = None,
        *,
        peer_config: Config | None = None,
        peer_budget_seconds: float = PEER_BUDGET_SECONDS,
    ) -> None:
        """``endpoints``: service name (or "*", or "service@region") to endpoint URL, for tools pointed at an
        emulator explicitly."""
        self._session = session
        self._config = config or DEFAULT_CONFIG
        self._peer_config = peer_config or PEER_CONFIG
        self._endpoints = endpoints or {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.home_region: str | None = None
        self.peer_budget_seconds = peer_budget_seconds
        self._peer_deadline: float | None = None

    def begin(self, home_region: str) -> None:
        """A new invocation in ``home_region``: calls to any other region are peer calls, on a fresh budget."""
        with self._lock:
            if home_region != self.home_region:
                self._clients.clear()
            self.home_region = home_region
            self._peer_deadline = None

    def client(self, service: str, region: str) -> Any:
        if not region:
            raise ValueError(f"a region is required for the {service} client")
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                if self._session is None:
                    self._session = boto3.Session()
                endpoint = self._endpoints.get(
                    f"{service}@{region}", self._endpoints.get(service, self._endpoints.get("*"))
                )
                peer = self.home_region is not None and region != self.home_region
                client = self._session.client(  # type: ignore[call-overload]
                    service,
                    region_name=region,
                    config=self._peer_config if peer else self._config,
                    endpoint_url=endpoint,
                )
                if peer:
                    client.meta.events.register("before-send", partial(self._spend, region))
                self._clients[key] = client
            return self._clients[key]

    def _spend(self, region: str, **_: Any) -> None:
        """Before each attempt to the peer: start the budget at the first, refuse once it is spent."""
        now = time.monotonic()
        with self._lock:
            if self._peer_deadline is None:
                self._peer_deadline = now + self.peer_budget_seconds
            spent = now >= self._peer_deadline
        if spent:
            raise PeerBudgetExhausted(region=region, budget=self.peer_budget_seconds)

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()

    def end(self) -> None:
        """The invocation is over: no home region and no peer budget any more (its clients carry the budget's hook,
        so they go too). For a factory that outlives one invocation, as the tests' shared one does."""
        with self._lock:
            self._clients.clear()
            self.home_region = None
            self._peer_deadline = None

    def rds(self, region: str) -> RDSClient:
        return self.client("rds", region)  # type: ignore[no-any-return]

    def dynamodb(self, region: str) -> DynamoDBClient:
        return self.client("dynamodb", region)  # type: ignore[no-any-return]

    def ssm(self, region: str) -> SSMClient:
        return self.client("ssm", region)  # type: ignore[no-any-return]

    def sagemaker(self, region: str) -> SageMakerClient:
        return self.client("sagemaker", region)  # type: ignore[no-any-return]

    def route53(self, region: str) -> Route53Client:
        # Route 53's control plane is global (served from us-east-1); the region picks the signing partition.
        return self.client("route53", region)  # type: ignore[no-any-return]

    def cloudwatch(self, region: str) -> CloudWatchClient:
        return self.client("cloudwatch", region)  # type: ignore[no-any-return]


clients = ClientFactory()
