"""The JSON events in events/, the same files `sam local invoke -e` takes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SAMPLE_PLAN = ROOT / "plans" / "recsys.json"


def load_event(name: str, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    event.update(overrides)
    return event


def data_plane_plan_doc() -> dict[str, Any]:
    """The sample plan as it is: data-plane DNS, answers asked of the zone's name servers."""
    doc: dict[str, Any] = json.loads(SAMPLE_PLAN.read_text(encoding="utf-8"))
    return doc


def sample_plan_doc() -> dict[str, Any]:
    """The sample plan in control-plane DNS mode, as plans written before the DNS modes read (no name servers, no
    answers per region: DNS is read through Route 53's API). Most tests run on moto, which has no DNS to ask; the
    data-plane mode is tested on the emulators and their DNS server (tests/emulator, tests/drill)."""
    doc = data_plane_plan_doc()
    route53 = doc["route53"]
    del route53["mode"], route53["name_servers"]
    for record in route53["records"]:
        del record["values"], record["ttl"]
    return doc


def two_variants(plan_doc: dict[str, Any]) -> dict[str, Any]:
    """``plan_doc`` with a second variant on each endpoint (``reranker``): a scale-up then takes two calls, one
    variant's capacity per call."""
    for region, endpoint in plan_doc["sagemaker"]["endpoints"].items():
        endpoint["variants"].append(
            {
                "variant_name": "reranker",
                "standby_instance_count": 1,
                "active_instance_count": 3 if region == "us-west-2" else 2,
                "active_weight": 0.25,
            }
        )
        endpoint["variants"][0]["active_weight"] = 0.75
    return plan_doc
