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


def sample_plan_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SAMPLE_PLAN.read_text(encoding="utf-8"))
    return doc
