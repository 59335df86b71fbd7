"""One factory for boto3 clients: explicit region, standard retries, created lazily and cached.

Endpoints come from boto3's own configuration (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``), which
is how the local emulators are wired in without any change here.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_ssm import SSMClient

DEFAULT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="failover-controller",
)


class ClientFactory:
    """Caches one client per (service, region). Pass a session or config to inject test doubles."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        config: Config | None = None,
        endpoints: dict[str, str] | None = None,
    ) -> None:
        """``endpoints``: service name (or "*") to endpoint URL, for tools pointed at an emulator explicitly."""
        self._session = session
        self._config = config or DEFAULT_CONFIG
        self._endpoints = endpoints or {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        if not region:
            raise ValueError(f"a region is required for the {service} client")
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                if self._session is None:
                    self._session = boto3.Session()
                endpoint = self._endpoints.get(service, self._endpoints.get("*"))
                self._clients[key] = self._session.client(  # type: ignore[call-overload]
                    service, region_name=region, config=self._config, endpoint_url=endpoint
                )
            return self._clients[key]

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()

    def rds(self, region: str) -> RDSClient:
        return self.client("rds", region)  # type: ignore[no-any-return]

    def dynamodb(self, region: str) -> DynamoDBClient:
        return self.client("dynamodb", region)  # type: ignore[no-any-return]

    def ssm(self, region: str) -> SSMClient:
        return self.client("ssm", region)  # type: ignore[no-any-return]

    def sagemaker(self, region: str) -> SageMakerClient:
        return self.client("sagemaker", region)  # type: ignore[no-any-return]

    def route53(self, region: str) -> Route53Client:
        # Route 53's control plane is global; the region only picks the signing endpoint's partition.
        return self.client("route53", region)  # type: ignore[no-any-return]

    def cloudwatch(self, region: str) -> CloudWatchClient:
        return self.client("cloudwatch", region)  # type: ignore[no-any-return]


clients = ClientFactory()
