"""What failoverctl takes from the command line, checked before anything runs, and how it shows what it prints.

Every bad value is refused by argparse (exit 2) with one line naming the option; nothing has started by then.
Whatever failoverctl prints passes through ``EscapingStream``: a plan's keys and values, a record's set identifier
or an AWS error message can hold terminal control sequences, which must be shown, never obeyed.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path
from typing import IO

from failover_controller.names import REGION
from failover_controller.plan import partition_regions

# C0 controls but newline and tab, DEL, and C1 controls (ECMA-48's CSI is \x9b as well as ESC [).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escaped(text: str) -> str:
    """``text`` with every control character shown as its escape (``\\x1b``), newline and tab kept."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class EscapingStream:
    """A text stream that writes ``escaped`` text to the one it wraps."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(escaped(text))

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more, got {escaped(repr(text))}")
    return int(text)


def positive_seconds(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {escaped(repr(text))}")
    return value


def time_scale(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (instant) or more, got {escaped(repr(text))}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {escaped(repr(text))}")
    return value


def region(text: str) -> str:
    if not REGION.match(text) or text not in partition_regions():
        raise argparse.ArgumentTypeError(f"{escaped(repr(text))} is not an AWS region botocore knows")
    return text


# CloudFormation's stack name (CreateStack's StackName).
STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")


def stack_name(text: str) -> str:
    if not STACK_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{escaped(repr(text))} is not a stack name (a letter, then letters, digits and hyphens; 128 at most)"
        )
    return text


# Step Functions' execution name (StartExecution's name): 1-80 characters, none of whitespace, brackets and
# wildcards, the URI's special characters or control characters; a run is named by it or by its ARN.
EXECUTION_NAME = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}")
EXECUTION_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[A-Za-z0-9_-]{1,80}:(.{1,80})")


def run_id(text: str) -> str:
    """A run's execution name or ARN, as a name (what a default file name is made of: never a path)."""
    found = EXECUTION_ARN.fullmatch(text)
    name = found.group(1) if found else text
    if not EXECUTION_NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(
            f"{escaped(repr(text))} is not a run: an execution name (80 characters at most, no whitespace, "
            "brackets, wildcards, '/', ':' or control characters) or an execution ARN"
        )
    return text


def run_name(run: str) -> str:
    """The execution name of a run ``run_id`` accepted."""
    found = EXECUTION_ARN.fullmatch(run)
    return found.group(1) if found else run


# An SSM parameter path: "/" then segments of SSM's name characters; no "." or ".." segment (a prefix is joined
# with the plan's name, never walked up).
PLAN_PREFIX = re.compile(r"(/[a-zA-Z0-9_.-]+)+")


def plan_prefix(text: str) -> str:
    segments = text.split("/")[1:]
    if not PLAN_PREFIX.fullmatch(text) or any(s in {".", ".."} for s in segments) or len(text) > 1011:
        raise argparse.ArgumentTypeError(
            f"{escaped(repr(text))} is not a parameter path: '/', then names of letters, digits, '_', '.' and '-' "
            "separated by '/' (no '.' or '..'), not ending in '/'"
        )
    return text


class OutputError(RuntimeError):
    """A file failoverctl was asked to write cannot be written: invalid input (exit 2), one line."""


def write_text(path: str | Path, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {escaped(str(path))}: {exc.strerror or exc}") from exc
