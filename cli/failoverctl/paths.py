"""Where things are, for the operator commands and the drill alike."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STACK = "failover-controller"
# The endpoints of the emulators a `failoverctl drill --keep` left running (read by --local).
LOCAL_STATE_FILE = ROOT / ".emulators" / "drill.json"
