"""moto's SageMaker, corrected where it differs from AWS, for the drill's and the tests' world.

UpdateEndpointWeightsAndCapacities keeps a variant's weight or instance count when the request omits it (AWS);
moto sets the omitted value to null. A variant created with weight 0 reports CurrentWeight 0 (and one created
without a weight, 1.0); moto reports none. Run as ``python -m failoverctl.moto_as_aws`` it is moto's server with that
corrected; ``patch()`` corrects moto in-process (unit tests).
"""

from __future__ import annotations

import functools
import sys
from typing import Any


def patch() -> None:
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend  # noqa: PLC0415 - a dev dependency

    _patch_variant_weights(FakeEndpoint)

    original = SageMakerModelBackend.update_endpoint_weights_and_capacities
    if getattr(original, "keeps_omitted_values", False):
        return

    @functools.wraps(original)
    def update(self: Any, endpoint_name: str, desired_weights_and_capacities: list[dict[str, Any]]) -> str:
        endpoint = self.endpoints.get(endpoint_name)
        variants = {v["VariantName"]: v for v in (endpoint.production_variants if endpoint else [])}
        filled = []
        for wanted in desired_weights_and_capacities:
            current = variants.get(wanted.get("VariantName"), {})
            filled.append(
                {
                    "DesiredWeight": current.get("CurrentWeight"),
                    "DesiredInstanceCount": current.get("CurrentInstanceCount"),
                    **{k: v for k, v in wanted.items() if v is not None},
                }
            )
        return original(self, endpoint_name, filled)

    update.keeps_omitted_values = True  # type: ignore[attr-defined]
    SageMakerModelBackend.update_endpoint_weights_and_capacities = update  # type: ignore[method-assign]


def _patch_variant_weights(endpoint_class: Any) -> None:
    original = endpoint_class._process_production_variants
    if getattr(original, "reports_every_weight", False):
        return

    @functools.wraps(original)
    def process(self: Any, production_variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        variants: list[dict[str, Any]] = original(self, production_variants)
        for asked, made in zip(production_variants, variants, strict=True):
            weight = float(asked.get("InitialVariantWeight", 1.0))
            made.setdefault("CurrentWeight", weight)
            made.setdefault("DesiredWeight", weight)
        return variants

    process.reports_every_weight = True  # type: ignore[attr-defined]
    endpoint_class._process_production_variants = process


def main() -> None:
    patch()
    from moto.server import main as serve  # noqa: PLC0415 - after the patch

    serve(sys.argv[1:])


if __name__ == "__main__":
    main()
