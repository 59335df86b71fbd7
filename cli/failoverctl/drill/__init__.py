"""The local drill, its own package: scenarios, the SAM toolchain against the emulators, the emulated world (also
what the tests build on), its controls, the verification and the runner. Only the CLI's entry point imports it;
operator commands against AWS do not."""

from __future__ import annotations

from failoverctl.drill.controls import emulated_env
from failoverctl.drill.emulators import DEFAULT_TIME_SCALE
from failoverctl.drill.runner import Options, run, stop_kept
from failoverctl.drill.scenarios import SCENARIOS, DrillError

__all__ = ["DEFAULT_TIME_SCALE", "SCENARIOS", "DrillError", "Options", "emulated_env", "run", "stop_kept"]
