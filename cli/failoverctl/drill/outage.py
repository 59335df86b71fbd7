"""The outage world: a proxy on 127.0.0.1 in front of the emulators that blacks out or browns out a region or a
service on a timeline, and counts every call by caller, region, service, action and outcome.

Every AWS call of the drill goes through it (the drill's own clients, the functions inside ministack, and
``failoverctl --local``). It reads each request as AWS's front door does: the region and the service from the SigV4
credential scope (Route 53's and IAM's APIs count as us-east-1, where they live, whatever region the client signs
for), the action from ``X-Amz-Target``, the ``Action`` parameter, the Smithy RPC v2 path or, for REST services,
botocore's model of the operation's method and URI. A fault answers as an outage does:

- a **blackout** gives no answer: the connection hangs for ``hang_s`` and is then closed (``style="hang"``), or is
  closed at once (``style="refuse"``);
- a **brownout** adds ``latency_s`` to every call and fails a share of them (``error_rate`` with a 5xx,
  ``throttle_rate`` with the service's throttling error), in AWS's error shape for the request's protocol. The
  failures come in bursts of ``burst`` consecutive calls (1: never two in a row), as a real brown-out's do: a burst
  longer than the SDK's attempts outlasts its retries and drains its retry quota.

The shares are deterministic (bursts spread evenly over the calls), so a drill fails the same calls every time.
It also makes AWS's slow changes take their (scaled) time (``SlowWorld``), and holds each deployed function to
its role's policies (``failoverctl.drill.iam``). Control requests (unsigned, under
``/_outage/``) set the faults, the time scale and the functions' policies, start the timeline and read the
counts.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import re
import socket
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import boto3
import cbor2
from botocore.retries.standard import ThrottledRetryableChecker

from failoverctl.drill import model_check
from failoverctl.drill.front_door import Call, classify
from failoverctl.drill.iam import Denial, Enforcer
from failoverctl.paths import ROOT

CONTROL = "/_outage/"
OUTCOMES = ("ok", "denied", "invalid", "error", "throttled", "timeout", "unreachable")
THROTTLED = frozenset(ThrottledRetryableChecker._THROTTLED_ERROR_CODES)  # type: ignore[attr-defined]  # botocore's own list
DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation", "UnauthorizedException"}
)
# --- AWS's error shapes -------------------------------------------------------------------------------------------


def throttling_code(call: Call) -> tuple[int, str]:
    """The status and code the service throttles with."""
    if call.service == "s3":
        return 503, "SlowDown"
    if call.protocol == "rest-json":
        return 429, "TooManyRequestsException"
    if call.protocol == "json":
        return 400, "ThrottlingException"
    return 400, "Throttling"


def access_denied_code(call: Call) -> tuple[int, str]:
    """The status and code the service denies a call with."""
    if call.protocol == "json":
        return 400, "AccessDeniedException"
    if call.protocol == "rest-json":
        return 403, "AccessDeniedException"
    return 403, "AccessDenied"


def server_error_code(call: Call) -> tuple[int, str]:
    if call.protocol in ("json", "rest-json"):
        return 500, "InternalFailure"
    return 503, "ServiceUnavailable"


def error_response(call: Call, status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """An error as the service would send it for the request's protocol."""
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id}
    if call.protocol == "smithy-rpc-v2-cbor":
        headers |= {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
        return status, headers, cbor2.dumps({"__type": f"com.amazonaws.{call.service}#{code}", "message": message})
    if call.protocol in ("json", "rest-json"):
        headers |= {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}
        return status, headers, json.dumps({"__type": code, "message": message}).encode()
    fault = "Receiver" if status >= 500 else "Sender"
    if call.service == "s3":
        xml = (
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        )
    else:
        xml = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    headers["Content-Type"] = "text/xml"
    return status, headers, ('<?xml version="1.0" encoding="UTF-8"?>\n' + xml).encode()


def error_code_of(status: int, headers: dict[str, str], body: bytes) -> str:
    """The AWS error code of an upstream answer, whatever its protocol; empty for a success."""
    if status < 300:
        return ""
    low = {k.lower(): v for k, v in headers.items()}
    if low.get("x-amzn-errortype"):
        return low["x-amzn-errortype"].split(":", 1)[0]
    if "cbor" in low.get("content-type", ""):
        with contextlib.suppress(Exception):
            return str(cbor2.loads(body).get("__type", "")).rsplit("#", 1)[-1]
    if body.lstrip().startswith(b"{"):
        with contextlib.suppress(ValueError):
            return str(json.loads(body).get("__type", "")).rsplit("#", 1)[-1]
    found = re.search(rb"<Code>([^<]+)</Code>", body)
    return found.group(1).decode() if found else str(status)


def outcome_of(status: int, code: str) -> str:
    if status < 300:
        return "ok"
    if code in DENIED:
        return "denied"
    if code in THROTTLED or status == 429:
        return "throttled"
    return "error"


# --- faults on a timeline -----------------------------------------------------------------------------------------


@dataclass
class Fault:
    """A region (or every region) and a service (or every service) failing from ``start_s`` to ``end_s`` (seconds
    after the timeline starts; no end: until the drill ends)."""

    kind: str  # blackout | brownout
    region: str | None = None
    service: str | None = None
    start_s: float = 0.0
    end_s: float | None = None
    style: str = "hang"  # blackout: hang (no answer for hang_s, then the connection closes) | refuse
    hang_s: float = 10.0
    latency_s: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    burst: int = 1
    seen: int = field(default=0, compare=False)
    failed_in_a_row: int = field(default=0, compare=False)
    longest_failure_run: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in ("blackout", "brownout"):
            problems.append(f"kind: must be blackout or brownout, got {self.kind!r}")
        if self.style not in ("hang", "refuse"):
            problems.append(f"style: must be hang or refuse, got {self.style!r}")
        for name in ("error_rate", "throttle_rate"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name}: must be between 0 and 1, got {getattr(self, name)!r}")
        if self.error_rate + self.throttle_rate > 1:
            problems.append("error_rate + throttle_rate: must be at most 1")
        if not isinstance(self.burst, int) or self.burst < 1:
            problems.append(f"burst: must be a whole number of calls, 1 or more, got {self.burst!r}")
        if problems:
            raise ValueError("fault: " + "; ".join(problems))

    def applies(self, call: Call, t: float) -> bool:
        return (
            self.start_s <= t
            and (self.end_s is None or t < self.end_s)
            and self.region in (None, call.region)
            and self.service in (None, call.service)
        )

    def describe(self) -> dict[str, Any]:
        hidden = ("seen", "failed_in_a_row", "longest_failure_run")
        fields = {k: v for k, v in asdict(self).items() if v is not None and k not in hidden}
        if self.kind == "brownout":
            fields["longest_failure_run"] = self.longest_failure_run
        return fields | {"affected": self.seen}

    def fate(self) -> str:
        """The next call's fate under a brownout (forward, error or throttle): the n-th call belongs to burst
        n // burst, and each burst fails or passes whole, placed by ``_position``."""
        n, self.seen = self.seen, self.seen + 1
        x = _position(n // self.burst)
        fate = "error" if x < self.error_rate else "throttle" if x < self.error_rate + self.throttle_rate else "forward"
        self.failed_in_a_row = 0 if fate == "forward" else self.failed_in_a_row + 1
        self.longest_failure_run = max(self.longest_failure_run, self.failed_in_a_row)
        return fate


_GOLDEN = (5**0.5 - 1) / 2


def _position(n: int) -> float:
    """Where the n-th call falls in [0, 1): the golden-ratio sequence, which spreads any share of consecutive calls
    evenly (a share of 0.25 is a quarter of every few calls, never a run of failures), and the same every time."""
    return (n * _GOLDEN) % 1.0


@dataclass(frozen=True)
class Verdict:
    """What the proxy does with a call: forward it (after ``delay_s``), or answer it itself."""

    action: str  # forward | hang | refuse | error | throttle
    delay_s: float = 0.0
    fault: int | None = None


class FaultPlan:
    """The scenario's faults and the timeline they are placed on."""

    def __init__(self, faults: list[Fault] | None = None, clock: Any = time.monotonic) -> None:
        self.faults = list(faults or [])
        self.clock = clock
        self.t0 = clock()
        self.lock = threading.Lock()

    def start(self, faults: list[Fault]) -> None:
        with self.lock:
            self.faults, self.t0 = list(faults), self.clock()

    def elapsed(self) -> float:
        return float(self.clock() - self.t0)

    def dark(self, service: str) -> list[str]:
        """The regions whose ``service`` a blackout takes down now."""
        t = self.elapsed()
        with self.lock:
            return sorted(
                {
                    f.region
                    for f in self.faults
                    if f.kind == "blackout"
                    and f.region
                    and f.service in (None, service)
                    and f.start_s <= t
                    and (f.end_s is None or t < f.end_s)
                }
            )

    def verdict(self, call: Call) -> Verdict:
        t = self.elapsed()
        with self.lock:
            for i, fault in enumerate(self.faults):
                if not fault.applies(call, t):
                    continue
                if fault.kind == "blackout":
                    fault.seen += 1
                    return Verdict(fault.style, fault.hang_s if fault.style == "hang" else 0.0, i)
                return Verdict(fault.fate(), fault.latency_s, i)
        return Verdict("forward")


class CallLog:
    """Every call counted by (caller, region, service, action, outcome)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str, str, str]] = Counter()
        self.callers: dict[str, str] = {}
        self.lock = threading.Lock()

    def add(self, call: Call, outcome: str) -> None:
        caller = self.callers.get(call.function or call.access_key) or call.function or "drill"
        if not call.access_key:
            caller = "unsigned"
        with self.lock:
            self.counts[(caller, call.region, call.service, call.action, outcome)] += 1

    def clear(self) -> None:
        with self.lock:
            self.counts.clear()

    def rows(self) -> list[dict[str, Any]]:
        with self.lock:
            items = sorted(self.counts.items())
        keys = ("function", "region", "service", "action", "outcome")
        return [dict(zip(keys, k, strict=True)) | {"count": n} for k, n in items]


# --- time, scaled -------------------------------------------------------------------------------------------------

TIMINGS_FILE = ROOT / "benchmarks" / "dependency_timings.json"


def dependency_timings() -> dict[str, float]:
    """The seconds each dependency takes on AWS, by name (``benchmarks/dependency_timings.json``)."""
    doc = json.loads(TIMINGS_FILE.read_text(encoding="utf-8"))
    return {k: float(v["value"]) for k, v in doc.items() if isinstance(v, dict)}


RDS_NS = "http://rds.amazonaws.com/doc/2014-10-31/"


@dataclass
class Operation:
    """A change AWS makes asynchronously, under way until ``ends``: the request is sent on to the emulator then."""

    kind: str  # aurora | sagemaker
    key: str  # global cluster id, or endpoint region/name
    started: float
    ends: float
    request: tuple[str, str, dict[str, str], bytes, str]  # method, path, headers, body, service
    detail: dict[str, str] = field(default_factory=dict)
    sending: bool = False


# As SageMaker reports a scale-up it could not provision (AWS knowledge center, "SageMaker endpoint creation or
# update fails").
INSUFFICIENT_CAPACITY = "Unable to provision requested ML compute capacity due to InsufficientInstanceCapacity error"


def _change_id(body: bytes) -> str | None:
    """The change a Route 53 ChangeInfo answer names (``/change/ID`` or ``ID``)."""
    found = re.search(rb"<Id>(?:/change/)?([^<]+)</Id>", body)
    return found.group(1).decode() if found else None


class SlowWorld:
    """What AWS does over minutes, done over seconds: ``scale`` divides the durations of
    ``benchmarks/dependency_timings.json``; ``scale`` 0 (the default) leaves every change instant.

    - Aurora ``SwitchoverGlobalCluster`` / ``FailoverGlobalCluster``: refused up front, as RDS refuses it, when the
      global cluster or the target member does not exist; else answered with the global cluster's ``FailoverState``
      (``pending``). A describe shows the operation only after ``VISIBLE_AFTER_S`` (``pending``, then
      ``switching-over`` or ``failing-over``), and the writer stays where it is until the operation ends; a second
      operation meanwhile is refused with ``InvalidGlobalClusterStateFault``. A refusal the emulator gives when the
      operation is sent on is kept in ``refused``, never dropped.
    - SageMaker ``UpdateEndpointWeightsAndCapacities``: the endpoint is ``Updating`` (old weights and counts) until
      the update ends; another update meanwhile is refused with ``ValidationException``. A region given a
      ``capacity`` (instances it can still provision) fails a scale-up asking for more: at the update's end the
      endpoint is ``RollingBack`` (``FailureReason`` says why) for ``sagemaker_rollback_s``, then ``InService`` at
      its old counts, as DescribeEndpoint documents a failed scale-up; ``InService`` keeps the ``FailureReason``
      until the next update is accepted ("the status is InService but update operation fails").
    - Route 53 ``ChangeResourceRecordSets``: the records change at once, and ``GetChange`` says ``PENDING`` until
      the change is in sync.
    """

    PENDING_SHARE = 0.2  # of an Aurora operation spent in `pending` (verification) before it starts
    # How long (real seconds, at most the operation's own time) an accepted Aurora operation stays out of
    # DescribeGlobalClusters: AWS documents no read-after-write guarantee there, so the controller must not need one.
    VISIBLE_AFTER_S = 1.0

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.scale = 0.0
        self.timings: dict[str, float] = {}
        self.operations: dict[tuple[str, str], Operation] = {}
        self.changes: dict[str, float] = {}
        self.capacity: dict[str, int] = {}  # region -> instances it can still provision (absent: unlimited)
        self.failed_updates: dict[str, str] = {}  # "region/endpoint" -> the FailureReason of its last update
        self.refused: list[dict[str, str]] = []  # operations the emulator refused when they were sent on
        self.autoscaling: list[dict[str, Any]] = []  # the endpoint updates Application Auto Scaling sent itself
        # Every slow change made, as scaled waits the drill's clock multiplies back: kind, key, its AWS duration's
        # name, when it began (epoch s) and how long it lasted here (s).
        self.scaled: list[dict[str, Any]] = []
        # (region, global cluster id) -> each member's ARN and whether it writes, from the emulator (None: no such
        # global cluster): what RDS checks up front, and the writer a failover leaves behind
        self.members_of: Callable[[str, str], dict[str, bool] | None] | None = None
        # Aurora while a region is dark, where AWS documents nothing: "as-before" (every member reads as it did) or
        # "degraded" (the secondaries of a dark writer read pending-resync).
        self.aurora_reading = "as-before"
        self.resyncing: dict[str, dict[str, Any]] = {}  # global cluster -> the old primary that must resync
        self.dark: Callable[[], list[str]] = list
        self.lock = threading.Lock()
        # The endpoint's instance counts now, by variant (region, endpoint name): more is a scale-up, fewer a drain.
        self.current_counts: Callable[[str, str], dict[str, int]] | None = None

    def configure(
        self,
        scale: float,
        timings: dict[str, float] | None = None,
        capacity: dict[str, int] | None = None,
        aurora_reading: str = "as-before",
    ) -> None:
        if not math.isfinite(scale) or scale < 0:
            raise ValueError(f"time scale: must be a finite number, 0 (instant) or more, got {scale!r}")
        bad = {r: n for r, n in (capacity or {}).items() if not isinstance(n, int) or n < 0}
        if bad:
            raise ValueError(f"capacity: instances a region can still provision, 0 or more, got {bad!r}")
        if aurora_reading not in ("as-before", "degraded"):
            raise ValueError(f"aurora reading: as-before or degraded, got {aurora_reading!r}")
        with self.lock:
            self.scale, self.timings = float(scale), dict(dependency_timings() if timings is None else timings)
            self.capacity = dict(capacity or {})
            self.aurora_reading = aurora_reading
            self.resyncing.clear()
            self.failed_updates.clear()
            self.operations.clear()
            self.changes.clear()
            self.refused.clear()
            self.autoscaling.clear()
            self.scaled.clear()

    def seconds(self, name: str) -> float:
        return self.timings[name] / self.scale if self.scale else 0.0

    def due(self) -> list[Operation]:
        """The operations whose time has come, each handed out once: the proxy sends their requests on, then
        calls ``finish``. Until then they still show as under way."""
        now = self.clock()
        with self.lock:
            for op in [op for op in self.operations.values() if op.ends <= now and op.detail.get("fails")]:
                if op.detail.get("rolling_back_until") is None:  # the failed update rolls back, changing nothing
                    op.detail["rolling_back_until"] = str(now + self.seconds("sagemaker_rollback_s"))
                elif float(op.detail["rolling_back_until"]) <= now:
                    self.operations.pop((op.kind, op.key), None)
                    self.failed_updates[op.key] = INSUFFICIENT_CAPACITY
            ready = [
                op
                for op in self.operations.values()
                if op.ends <= now and not op.sending and not op.detail.get("fails")
            ]
            for op in ready:
                op.sending = True
        return ready

    def finish(self, op: Operation) -> None:
        with self.lock:
            self.operations.pop((op.kind, op.key), None)
            if op.kind == "aurora" and op.detail.get("status") == "failing-over" and op.detail.get("from"):
                # The old primary rejoins as a secondary that must resync, once its region answers again.
                old = op.detail["from"]
                self.resyncing[op.key] = {"member": old, "region": old.split(":")[3], "until": None}

    def intercept(
        self, call: Call, headers: dict[str, str], body: bytes, path: str
    ) -> tuple[int, dict[str, str], bytes] | None:
        """An answer of its own for a request that starts a slow change (or is refused while one is under way);
        None: forward it."""
        if not self.scale:
            return None
        if call.service == "rds" and call.action in ("SwitchoverGlobalCluster", "FailoverGlobalCluster"):
            return self._aurora(call, headers, body, path)
        if call.service == "sagemaker" and call.action == "UpdateEndpointWeightsAndCapacities":
            return self._sagemaker(call, headers, body, path)
        return None

    def _aurora(self, call: Call, headers: dict[str, str], body: bytes, path: str) -> tuple[int, dict[str, str], bytes]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        gc, target = form.get("GlobalClusterIdentifier", ""), form.get("TargetDbClusterIdentifier", "")
        members = self.members_of(call.region, gc) if self.members_of else {target: False}
        if members is None:
            return error_response(call, 404, "GlobalClusterNotFoundFault", f"Global cluster {gc} not found.")
        if not any(target in (m, m.rsplit(":", 1)[-1]) for m in members):
            return error_response(
                call, 404, "DBClusterNotFoundFault", f"{target} is not a member of global cluster {gc}."
            )
        found = next((arn for arn, writes in members.items() if writes), None)
        failover = call.action == "FailoverGlobalCluster"
        loss = failover and form.get("AllowDataLoss", "false").lower() == "true"
        now = self.clock()
        with self.lock:
            if ("aurora", gc) in self.operations:
                return error_response(
                    call, 400, "InvalidGlobalClusterStateFault", f"Global cluster {gc} is in the middle of an operation"
                )
            timing = "aurora_failover_s" if failover else "aurora_switchover_s"
            seconds = self.seconds(timing)
            self._log("aurora", gc, timing, seconds)
            self.operations[("aurora", gc)] = Operation(
                "aurora",
                gc,
                now,
                now + seconds,
                ("POST", path, headers, body, call.service),
                {
                    "to": target,
                    "from": found or "",
                    "status": "failing-over" if failover else "switching-over",
                    "loss": str(loss).lower(),
                },
            )
        state = self._failover_state(self.operations[("aurora", gc)], now)
        xml = (
            f'<{call.action}Response xmlns="{RDS_NS}"><{call.action}Result><GlobalCluster>'
            f"<GlobalClusterIdentifier>{escape(gc)}</GlobalClusterIdentifier><Status>available</Status>{state}"
            f"</GlobalCluster></{call.action}Result><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
            f"</ResponseMetadata></{call.action}Response>"
        )
        return 200, {"Content-Type": "text/xml"}, xml.encode()

    def _log(self, kind: str, key: str, timing: str, seconds: float) -> None:
        """Called with the lock held."""
        if self.scale:
            self.scaled.append({"kind": kind, "key": key, "timing": timing, "at": time.time(), "seconds": seconds})

    def _failover_state(self, op: Operation, now: float, xmlns: str = "") -> str:
        pending = now < op.started + self.PENDING_SHARE * (op.ends - op.started)
        return (
            f"<FailoverState{xmlns}><Status>{'pending' if pending else op.detail['status']}</Status>"
            f"<ToDbClusterArn>{escape(op.detail['to'])}</ToDbClusterArn>"
            f"<IsDataLossAllowed>{op.detail['loss']}</IsDataLossAllowed></FailoverState>"
        )

    def _sagemaker(
        self, call: Call, headers: dict[str, str], body: bytes, path: str
    ) -> tuple[int, dict[str, str], bytes]:
        doc = json.loads(body or b"{}")
        name = str(doc.get("EndpointName", ""))
        key = f"{call.region}/{name}"
        wanted = {
            d.get("VariantName"): d["DesiredInstanceCount"]
            for d in doc.get("DesiredWeightsAndCapacities", [])
            if "DesiredInstanceCount" in d
        }
        timing, added = "sagemaker_weights_s", 0
        if wanted:
            counts = self.current_counts(call.region, name) if self.current_counts else {}
            added = sum(max(0, n - counts.get(v, 0)) for v, n in wanted.items())
            timing = "sagemaker_scale_up_s" if added else "sagemaker_scale_down_s"
        now = self.clock()
        with self.lock:
            if ("sagemaker", key) in self.operations:
                return error_response(call, 400, "ValidationException", f'Cannot update in-progress endpoint "{name}".')
            seconds = self.seconds(timing)
            left = self.capacity.get(call.region)
            fails = left is not None and added > left
            if added and left is not None and not fails:
                self.capacity[call.region] = left - added
            self.failed_updates.pop(key, None)  # the reason "disappears as soon as a new update is applied"
            self._log("sagemaker", key, timing, seconds)
            self.operations[("sagemaker", key)] = Operation(
                "sagemaker",
                key,
                now,
                now + seconds,
                ("POST", path, headers, body, call.service),
                {"fails": "yes"} if fails else {},
            )
        arn = f"arn:aws:sagemaker:{call.region}:000000000000:endpoint/{name.lower()}"
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps({"EndpointArn": arn}).encode()

    def patch(self, call: Call, body: bytes) -> bytes:
        """What the answer shows while a slow change is under way."""
        if not self.scale:
            return body
        if call.service == "rds" and call.action == "DescribeGlobalClusters":
            return self._patch_global_clusters(body)
        if call.service == "sagemaker" and call.action == "DescribeEndpoint":
            return self._patch_endpoint(call, body)
        change = _change_id(body) if call.service == "route53" else None
        if change and call.action == "ChangeResourceRecordSets":
            with self.lock:
                self.changes[change] = self.clock() + self.seconds("route53_insync_s")
        if change and call.action == "GetChange":
            with self.lock:
                pending = self.changes.get(change, 0.0) > self.clock()
            if pending:
                return body.replace(b"<Status>INSYNC</Status>", b"<Status>PENDING</Status>")
        return body

    def _patch_global_clusters(self, body: bytes) -> bytes:
        now = self.clock()
        dark = set(self.dark())
        with self.lock:
            ops = {op.key: op for (kind, _), op in self.operations.items() if kind == "aurora"}
            resyncing = self._resyncing(now, dark)
        if not ops and not resyncing and not (dark and self.aurora_reading == "degraded"):
            return body
        root = ET.fromstring(body)  # noqa: S314 - the local emulator's own answer
        ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
        q = (lambda name: f"{{{ns}}}{name}") if ns else (lambda name: name)
        if ns:
            ET.register_namespace("", ns)
        for cluster in root.iter(q("GlobalClusterMember")):
            ident = cluster.find(q("GlobalClusterIdentifier"))
            members = cluster.find(q("GlobalClusterMembers"))
            if ident is None or members is None:
                continue
            self._sync_statuses(members, q, resyncing.get(ident.text or ""), dark)
            if ident.text not in ops:
                continue
            op = ops[ident.text]
            if now < op.started + min(self.VISIBLE_AFTER_S, op.ends - op.started):
                continue  # accepted, not yet visible
            for old in cluster.findall(q("FailoverState")):
                cluster.remove(old)
            xmlns = f' xmlns="{ns}"' if ns else ""
            cluster.append(ET.fromstring(self._failover_state(ops[ident.text], now, xmlns)))  # noqa: S314
        return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))

    def _resyncing(self, now: float, dark: set[str]) -> dict[str, str]:
        """The old primaries still resyncing, by global cluster: the clock starts when their region answers again,
        and runs ``aurora_resync_s``. Called with the lock held."""
        still = {}
        for gc, entry in list(self.resyncing.items()):
            if entry["until"] is None and entry["region"] not in dark:
                entry["until"] = now + self.seconds("aurora_resync_s")
            if entry["until"] is not None and entry["until"] <= now:
                del self.resyncing[gc]
                continue
            still[gc] = entry["member"]
        return still

    def _sync_statuses(
        self, members: ET.Element, q: Callable[[str], str], resyncing: str | None, dark: set[str]
    ) -> None:
        """Each member's SynchronizationStatus as this world reads it: the old primary pending-resync until it has
        resynced; with the "degraded" reading, the secondaries of a writer whose region is dark too."""
        rows = [(m, m.findtext(q("DBClusterArn")) or "", m.findtext(q("IsWriter")) == "true") for m in members]
        writer_dark = any(is_writer and arn.split(":")[3] in dark for _, arn, is_writer in rows if arn.count(":") > 3)
        for member, arn, is_writer in rows:
            pending = arn == resyncing or (self.aurora_reading == "degraded" and writer_dark and not is_writer)
            if not pending:
                continue
            status = member.find(q("SynchronizationStatus"))
            if status is None:
                status = ET.SubElement(member, q("SynchronizationStatus"))
            status.text = "pending-resync"

    def _patch_endpoint(self, call: Call, body: bytes) -> bytes:
        doc = json.loads(body)
        key = f"{call.region}/{doc.get('EndpointName', '')}"
        with self.lock:
            op = self.operations.get(("sagemaker", key))
            rolling_back = op is not None and op.detail.get("rolling_back_until") is not None
            failed = self.failed_updates.get(key)
        if doc.get("EndpointStatus") != "InService":
            return body
        if op is None:
            if failed is None:
                return body
            doc["FailureReason"] = failed
            return json.dumps(doc).encode()
        doc["EndpointStatus"] = "RollingBack" if rolling_back else "Updating"
        if rolling_back:
            doc["FailureReason"] = INSUFFICIENT_CAPACITY
        return json.dumps(doc).encode()


# --- Application Auto Scaling -------------------------------------------------------------------------------------

SCALABLE_VARIANT = re.compile(r"^endpoint/([^/]+)/variant/([^/]+)$")
# What Application Auto Scaling checks the caller may do on the endpoint before it registers a variant (Application
# Auto Scaling user guide, permissions validation; SageMaker developer guide, auto scaling prerequisites).
VALIDATED = (
    "sagemaker:DescribeEndpoint",
    "sagemaker:DescribeEndpointConfig",
    "sagemaker:UpdateEndpointWeightsAndCapacities",
)


def endpoint_update_request(region: str, name: str, variant: str, count: int) -> tuple[dict[str, str], bytes]:
    """The UpdateEndpointWeightsAndCapacities Application Auto Scaling sends itself (headers, body)."""
    body = {
        "EndpointName": name,
        "DesiredWeightsAndCapacities": [{"VariantName": variant, "DesiredInstanceCount": count}],
    }
    headers = {
        "X-Amz-Target": "SageMaker.UpdateEndpointWeightsAndCapacities",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 "
        f"Credential=application-autoscaling/20260101/{region}/sagemaker/aws4_request, SignedHeaders=host, Signature=0",
    }
    return headers, json.dumps(body).encode()


# --- the account's Lambda concurrency ------------------------------------------------------------------------------

UNRESERVED_MINIMUM = 100
_CONCURRENCY_PATH = re.compile(r"/functions/([^/?]+)/concurrency")


class LambdaAccount:
    """The account's concurrency quota in each region, which the emulator does not keep: ``GetAccountSettings``
    answers with it, and ``PutFunctionConcurrency`` is refused, as Lambda refuses it, when fewer than 100 (or the
    whole quota, when it is smaller) would stay unreserved. The reservations are kept here and sent on to the
    emulator too."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit  # the same quota in every region (Lambda's quotas are per region)
        self.reserved: dict[tuple[str, str], int] = {}
        self.lock = threading.Lock()

    def configure(self, limit: int) -> None:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"account concurrency: must be a whole number, 1 or more, got {limit!r}")
        with self.lock:
            self.limit = limit
            self.reserved.clear()

    def unreserved(self, region: str) -> int:
        return self.limit - sum(n for (r, _), n in self.reserved.items() if r == region)

    def intercept(self, call: Call, path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        """An answer of its own (settings, a refusal); None: forward the request (recorded here when it reserves)."""
        if call.service != "lambda":
            return None
        if call.action == "GetAccountSettings":
            with self.lock:
                limit, unreserved = self.limit, self.unreserved(call.region)
            doc = {
                "AccountLimit": {"ConcurrentExecutions": limit, "UnreservedConcurrentExecutions": unreserved},
                "AccountUsage": {"FunctionCount": 0, "TotalCodeSize": 0},
            }
            return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()
        found = _CONCURRENCY_PATH.search(path)
        if not found or call.action not in ("PutFunctionConcurrency", "DeleteFunctionConcurrency"):
            return None
        name = (call.region, found.group(1).rsplit(":", 1)[-1])
        with self.lock:
            if call.action == "DeleteFunctionConcurrency":
                self.reserved.pop(name, None)
                return None
            wanted = int(json.loads(body or b"{}").get("ReservedConcurrentExecutions", 0))
            floor = min(UNRESERVED_MINIMUM, self.limit)
            if self.unreserved(call.region) + self.reserved.get(name, 0) - wanted < floor:
                return error_response(
                    call,
                    400,
                    "InvalidParameterValueException",
                    "Specified ReservedConcurrentExecutions for function decreases account's "
                    f"UnreservedConcurrentExecution below its minimum value of [{floor}].",
                )
            self.reserved[name] = wanted
        return None


# --- EventBridge across regions ------------------------------------------------------------------------------------

_BUS_ARN = re.compile(r"^arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):event-bus/(.+)$")


class CrossRegionBuses:
    """EventBridge's delivery to an event bus in another region, which the emulator drops: an event put in a region
    goes on to each cross-region bus target of the rules it matches (``TestEventPattern``), put there with the
    target's role, which must allow ``events:PutEvents`` on that bus (EventBridge user guide, sending and receiving
    events between Regions). ``relayed`` counts what went on, ``refused`` what the role did not allow."""

    def __init__(self, client: Callable[[str, str], Any]) -> None:
        self.client = client  # (service, region) -> a boto3 client of the emulator itself
        self.relayed: list[dict[str, str]] = []
        self.refused: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def relay(self, region: str, body: bytes, answer: bytes) -> None:
        try:
            self._relay(region, body, answer)
        except Exception as exc:  # noqa: BLE001 - the caller's PutEvents succeeded; what went wrong here is reported
            with self.lock:
                self.refused.append({"from": region, "to": "?", "role": "", "error": f"{type(exc).__name__}: {exc}"})

    def _relay(self, region: str, body: bytes, answer: bytes) -> None:
        entries = json.loads(body or b"{}").get("Entries", [])
        ids = [e.get("EventId") for e in json.loads(answer or b"{}").get("Entries", [])]
        events = self.client("events", region)
        for entry, event_id in zip(entries, ids, strict=False):
            if not event_id:
                continue
            bus = entry.get("EventBusName", "default")
            for rule in events.list_rules(EventBusName=bus).get("Rules", []):
                if rule.get("State") != "ENABLED" or not rule.get("EventPattern"):
                    continue
                targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus).get("Targets", [])
                remote = [t for t in targets if (m := _BUS_ARN.match(t["Arn"])) and m.group(1) != region]
                if remote and self._matches(events, rule["EventPattern"], entry, event_id, region):
                    for target in remote:
                        self._deliver(entry, target, region)

    @staticmethod
    def _matches(events: Any, pattern: str, entry: dict[str, Any], event_id: str, region: str) -> bool:
        envelope = {
            "id": event_id,
            "version": "0",
            "source": entry.get("Source", ""),
            "detail-type": entry.get("DetailType", ""),
            "account": "000000000000",
            "time": "2026-01-01T00:00:00Z",
            "region": region,
            "resources": entry.get("Resources", []),
            "detail": json.loads(entry.get("Detail") or "{}"),
        }
        return bool(events.test_event_pattern(EventPattern=pattern, Event=json.dumps(envelope))["Result"])

    def _deliver(self, entry: dict[str, Any], target: dict[str, Any], region: str) -> None:
        found = _BUS_ARN.match(target["Arn"])
        assert found is not None  # noqa: S101 - chosen by the pattern above
        to_region, _, bus = found.groups()
        record = {"from": region, "to": target["Arn"], "role": target.get("RoleArn", "")}
        if not self._role_allows(target.get("RoleArn", ""), target["Arn"], to_region):
            with self.lock:
                self.refused.append(record)
            return
        forwarded = {k: v for k, v in entry.items() if k in ("Source", "DetailType", "Detail", "Resources", "Time")}
        self.client("events", to_region).put_events(Entries=[forwarded | {"EventBusName": bus}])
        with self.lock:
            self.relayed.append(record)

    def _role_allows(self, role_arn: str, bus_arn: str, region: str) -> bool:
        if not role_arn:
            return False
        iam = self.client("iam", "us-east-1")
        role = role_arn.rsplit("/", 1)[-1]
        documents = [
            iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"]
            for p in iam.list_role_policies(RoleName=role)["PolicyNames"]
        ]
        documents = [json.loads(d) if isinstance(d, str) else d for d in documents]
        session = f"arn:aws:sts::{role_arn.split(':')[4]}:assumed-role/{role}/events"
        return Enforcer.allows(session, documents, "events:PutEvents", bus_arn, region)

    def report(self) -> dict[str, Any]:
        with self.lock:
            return {"relayed": list(self.relayed), "refused": list(self.refused)}

    def clear(self) -> None:
        with self.lock:
            self.relayed.clear()
            self.refused.clear()


# --- the proxy ----------------------------------------------------------------------------------------------------

_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"}


@dataclass
class Upstreams:
    """Where each service is emulated: ``default`` (ministack) unless ``routes`` names the signing name (moto)."""

    default: str
    routes: dict[str, str] = field(default_factory=dict)

    def of(self, service: str) -> tuple[str, int]:
        parts = urlsplit(self.routes.get(service, self.default))
        return parts.hostname or "127.0.0.1", parts.port or 80


class OutageProxy(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, upstreams: Upstreams) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.upstreams = upstreams
        self.plan = FaultPlan()
        self.log = CallLog()
        self.slow = SlowWorld()
        self.slow.current_counts = self._endpoint_counts
        self.slow.members_of = self._global_cluster_members
        self.slow.dark = lambda: self.plan.dark("rds")
        self.iam = Enforcer()
        self.account = LambdaAccount()
        self.buses = CrossRegionBuses(self._emulator_client)
        self.local = threading.local()
        self.completing = threading.Lock()
        threading.Thread(target=self._tick, name="outage-slow-world", daemon=True).start()

    def _tick(self) -> None:
        while True:
            time.sleep(0.05)
            with contextlib.suppress(Exception):
                self.complete_due()

    def _emulator_client(self, service: str, region: str) -> Any:
        """A client of the emulator itself, behind no fault and no IAM: the world's own hands."""
        host, port = self.upstreams.of(service)
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=region,
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id="outage-proxy",
            aws_secret_access_key="outage-proxy",  # noqa: S106 - the local emulator's
        )

    def validate_registration(self, call: Call, body: bytes) -> Denial | None:
        """Application Auto Scaling's permission validation of a SageMaker variant's registration: the caller must
        be allowed what the scaling will do to the endpoint. Checked for the deployed functions only."""
        if call.service != "application-autoscaling" or call.action != "RegisterScalableTarget":
            return None
        doc = json.loads(body or b"{}")
        found = SCALABLE_VARIANT.match(str(doc.get("ResourceId", "")))
        if doc.get("ServiceNamespace") != "sagemaker" or not found:
            return None
        name = found.group(1)
        try:
            config = self._emulator_client("sagemaker", call.region).describe_endpoint(EndpointName=name)
        except Exception:  # noqa: BLE001 - no such endpoint: the registration itself is answered by the emulator
            return None
        account = self.iam.account_of(call.function)
        resources = {
            "sagemaker:DescribeEndpoint": f"arn:aws:sagemaker:{call.region}:{account}:endpoint/{name.lower()}",
            "sagemaker:DescribeEndpointConfig": f"arn:aws:sagemaker:{call.region}:{account}:endpoint-config/"
            f"{str(config.get('EndpointConfigName', '')).lower()}",
            "sagemaker:UpdateEndpointWeightsAndCapacities": f"arn:aws:sagemaker:{call.region}:{account}:endpoint/"
            f"{name.lower()}",
        }
        return self.iam.check_actions(call, [(action, resources[action]) for action in VALIDATED])

    def capacity_into_range(self, region: str, body: bytes) -> None:
        """A registration "changes the resource's current capacity to a value that is inside of this range"
        (RegisterScalableTarget's API reference): Application Auto Scaling sends its own endpoint update."""
        doc = json.loads(body or b"{}")
        found = SCALABLE_VARIANT.match(str(doc.get("ResourceId", "")))
        if doc.get("ServiceNamespace") != "sagemaker" or not found:
            return
        name, variant = found.groups()
        count = self._endpoint_counts(region, name).get(variant)
        low, high = doc.get("MinCapacity"), doc.get("MaxCapacity")
        if count is None:
            return
        wanted = max(count, low) if low is not None else count
        wanted = min(wanted, high) if high is not None else wanted
        if wanted == count:
            return
        headers, request = endpoint_update_request(region, name, variant, wanted)
        update = Call(region, "sagemaker", "UpdateEndpointWeightsAndCapacities", "json", "application-autoscaling")
        answer = self.slow.intercept(update, headers, request, "/")
        if answer is None:  # time not scaled: the change is made at once
            host, port = self.upstreams.of("sagemaker")
            conn = http.client.HTTPConnection(host, port, timeout=60)
            try:
                conn.request("POST", "/", body=request, headers=headers)
                conn.getresponse().read()
            finally:
                conn.close()
        with self.slow.lock:
            self.slow.autoscaling.append({"endpoint": name, "variant": variant, "from": count, "to": wanted})

    def _global_cluster_members(self, region: str, identifier: str) -> dict[str, bool] | None:
        try:
            found = self._emulator_client("rds", region).describe_global_clusters(GlobalClusterIdentifier=identifier)
        except Exception:  # noqa: BLE001 - not found (or the emulator cannot say): RDS answers not found
            return None
        clusters = found.get("GlobalClusters", [])
        if not clusters:
            return None
        return {m["DBClusterArn"]: bool(m.get("IsWriter")) for m in clusters[0].get("GlobalClusterMembers", [])}

    def _endpoint_counts(self, region: str, name: str) -> dict[str, int]:
        client = self._emulator_client("sagemaker", region)
        try:
            variants = client.describe_endpoint(EndpointName=name).get("ProductionVariants", [])
        except Exception:  # noqa: BLE001 - no endpoint: the emulator answers the update itself
            return {}
        return {v["VariantName"]: int(v.get("CurrentInstanceCount", 0)) for v in variants}

    def complete_due(self) -> None:
        """Send on the requests of the slow changes whose time has come (the emulator makes the change now)."""
        with self.completing:
            for op in self.slow.due():
                method, path, headers, body, service = op.request
                host, port = self.upstreams.of(service)
                conn = http.client.HTTPConnection(host, port, timeout=60)
                try:
                    conn.request(method, path, body=body, headers=headers)
                    answer = conn.getresponse()
                    body_back = answer.read()
                    if answer.status >= 300:
                        code = error_code_of(answer.status, dict(answer.getheaders()), body_back)
                        with self.slow.lock:
                            self.slow.refused.append({"operation": op.kind, "key": op.key, "code": code})
                finally:
                    conn.close()
                    self.slow.finish(op)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def report(self) -> dict[str, Any]:
        iam = self.iam.report()
        for denial in iam["denials"]:
            denial["function"] = self.log.callers.get(denial["function"], denial["function"])
        return {
            "calls": self.log.rows(),
            "faults": [f.describe() for f in self.plan.faults],
            "iam": iam,
            "events": self.buses.report(),
            "refused_at_completion": list(self.slow.refused),
            "autoscaling": list(self.slow.autoscaling),
            "scaled": list(self.slow.scaled),
        }

    def connection(self, service: str) -> http.client.HTTPConnection:
        host, port = self.upstreams.of(service)
        pool: dict[tuple[str, int], http.client.HTTPConnection] = self.local.__dict__.setdefault("pool", {})
        if (host, port) not in pool:
            pool[(host, port)] = http.client.HTTPConnection(host, port, timeout=600)
        return pool[(host, port)]

    def drop(self, service: str) -> None:
        conn = self.local.__dict__.get("pool", {}).pop(self.upstreams.of(service), None)
        if conn is not None:
            conn.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: without this, each answer waits ~40 ms
    # A request line, headers or body that stops coming frees its thread after this long (socketserver applies it
    # to the connection): the SDK's own read timeout is shorter, so no client is still waiting by then.
    timeout = 120
    server: OutageProxy

    def log_message(self, *_: Any) -> None:
        return

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError(f"Content-Length {length} is negative")
        body = self.rfile.read(length)
        if len(body) < length:
            raise ValueError("the body is shorter than its Content-Length")
        return body

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in _HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _malformed(self, exc: Exception) -> None:
        """A request that cannot be read (a Content-Length or chunk size that is no number, a body cut short):
        answered 400 and the connection closed, as a web server does, never a traceback."""
        self.close_connection = True
        message = "malformed request: " + ("the body stopped coming" if isinstance(exc, OSError) else str(exc))
        with contextlib.suppress(OSError):
            self._send(
                400,
                {"Content-Type": "application/json", "Connection": "close"},
                json.dumps({"error": message}).encode(),
            )

    def _request_body(self) -> bytes | None:
        """The request's body; None when it could not be read (answered already)."""
        try:
            return self._body()
        except (ValueError, OSError) as exc:
            self._malformed(exc)
            return None

    def _handle(self) -> None:
        body = self._request_body()
        if body is None:
            return
        if self.path.startswith(CONTROL):
            self._control(body)
            return
        self.server.complete_due()
        call = classify(self.command, self.path, dict(self.headers.items()), body)
        sent = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        verdict = self.server.plan.verdict(call)
        if verdict.action in ("hang", "refuse"):
            time.sleep(verdict.delay_s)
            self.server.log.add(call, "timeout" if verdict.action == "hang" else "unreachable")
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        time.sleep(verdict.delay_s)
        if verdict.action in ("error", "throttle"):
            status, code = server_error_code(call) if verdict.action == "error" else throttling_code(call)
            self.server.log.add(call, "error" if verdict.action == "error" else "throttled")
            self._send(*error_response(call, status, code, f"drill fault: {call.region} {verdict.action}"))
            return
        denial = self.server.iam.check(call, self.command, self.path, body) or self.server.validate_registration(
            call, body
        )
        if denial is not None:
            self.server.log.add(call, "denied")
            self._send(*error_response(call, *access_denied_code(call), denial.message()))
            return
        broken = model_check.problems(
            call, model_check.Request(self.command, self.path, dict(self.headers.items()), body)
        )
        if broken:
            print(
                f"refused {call.region} {call.service} {call.action}: {'; '.join(broken)}", file=sys.stderr, flush=True
            )
            self.server.log.add(call, "invalid")
            self._send(*error_response(call, 400, model_check.error_code(call), model_check.message(broken)))
            return
        own = self.server.account.intercept(call, self.path, body) or self.server.slow.intercept(
            call, sent, body, self.path
        )
        if own is not None:
            self.server.log.add(call, outcome_of(own[0], error_code_of(*own)))
            self._send(*own)
            return
        self._answer_from_upstream(call, sent, body)

    def _answer_from_upstream(self, call: Call, sent: dict[str, str], body: bytes) -> None:
        """The emulator's answer, as the world shows it, and what AWS does besides (events relayed across regions,
        capacity moved into a registered range)."""
        status, answer_headers, answer = self._forward(call, sent, body)
        if status < 300:
            answer = self.server.slow.patch(call, answer)
        if status < 300 and call.service == "events" and call.action == "PutEvents":
            self.server.buses.relay(call.region, body, answer)
        if status < 300 and call.service == "application-autoscaling" and call.action == "RegisterScalableTarget":
            self.server.capacity_into_range(call.region, body)
        self.server.log.add(call, outcome_of(status, error_code_of(status, answer_headers, answer)))
        self._send(status, answer_headers, answer)

    def _forward(self, call: Call, sent: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = sent | {"Content-Length": str(len(body))}
        for attempt in (1, 2):
            conn = self.server.connection(call.service)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            except (http.client.HTTPException, OSError):
                self.server.drop(call.service)  # a pooled connection the upstream closed: once more, fresh
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _control(self, body: bytes) -> None:
        verb = self.path.removeprefix(CONTROL).split("?", 1)[0]
        try:
            if verb == "faults" and self.command == "POST":
                doc = json.loads(body or b"{}")
                self.server.plan.start([Fault(**f) for f in doc.get("faults", [])])
                self.server.log.clear()
                self.server.buses.clear()
            elif verb == "callers" and self.command == "POST":
                self.server.log.callers.update(json.loads(body or b"{}"))
            elif verb == "iam" and self.command == "POST":
                doc = json.loads(body or b"{}")
                self.server.iam.configure(doc.get("functions", {}), merge=bool(doc.get("merge")))
            elif verb == "account" and self.command == "POST":
                self.server.account.configure(json.loads(body or b"{}").get("concurrent_executions", 1000))
            elif verb == "time" and self.command == "POST":
                doc = json.loads(body or b"{}")
                self.server.slow.configure(
                    float(doc.get("scale", 0)),
                    doc.get("timings"),
                    doc.get("capacity"),
                    doc.get("aurora_reading", "as-before"),
                )
            elif verb == "state":
                state = {"time_scale": self.server.slow.scale, "down_regions": self.server.plan.dark("monitoring")}
                self._send(200, {"Content-Type": "application/json"}, json.dumps(state).encode())
                return
            elif verb != "report":
                self._send(404, {"Content-Type": "application/json"}, b'{"error": "unknown control"}')
                return
        except (ValueError, TypeError) as exc:
            self._send(400, {"Content-Type": "application/json"}, json.dumps({"error": str(exc)}).encode())
            return
        payload = self.server.report() | {
            "elapsed_s": round(self.server.plan.elapsed(), 3),
            "time_scale": self.server.slow.scale,
        }
        self._send(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


def serve(port: int, upstreams: Upstreams) -> OutageProxy:
    """The proxy, serving in a thread of this process (tests); the drill runs it as its own process."""
    proxy = OutageProxy(port, upstreams)
    threading.Thread(target=proxy.serve_forever, name="outage-proxy", daemon=True).start()
    return proxy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m failoverctl.drill.outage", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the default emulator (ministack)")
    parser.add_argument("--route", action="append", default=[], help="SIGNING_NAME=URL (moto for sagemaker, ...)")
    args = parser.parse_args(argv)
    routes = dict(r.split("=", 1) for r in args.route)
    OutageProxy(args.port, Upstreams(args.upstream, routes)).serve_forever()


if __name__ == "__main__":
    main()
