"""moto's in-process DynamoDB made atomic, as DynamoDB is: for the tests of "at most once" with concurrent callers."""

from __future__ import annotations

import threading
from typing import Any

import pytest


def atomic_dynamodb_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB checks a write's condition and writes atomically; moto's in-process backend does neither under a
    lock, so two threads could both pass one condition (seen under load). Its writes are serialized here."""
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415 - a dev dependency

    lock = threading.Lock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def serialized(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, serialized)
