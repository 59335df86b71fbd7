"""The drill's hands on the emulated world: the environment that points every client at the emulators, the
alarm event the emulator does not emit, the readiness function invoked, the metrics read from the logs."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from failover_controller.clients import ClientFactory
from failover_controller.plan import RecoveryPlan
from failover_controller.reads import dns as dns_reads
from failoverctl.drill import emulators as emu
from failoverctl.drill import world
from failoverctl.drill.scenarios import DrillError
from failoverctl.drill.toolchain import ACCOUNT, EVENT_SOURCE
from failoverctl.paths import ROOT


@contextlib.contextmanager
def emulated_env(pair: emu.Emulators) -> Iterator[None]:
    """Every boto3 client of this process talks to the emulators, with test credentials."""
    values = {
        **pair.endpoint_env(),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "",
        "AWS_PROFILE": "",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "SAM_CLI_TELEMETRY": "0",
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    for key in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class Fired:
    """The alarms the drill fired: each one's name and when its state changed (epoch s)."""

    alarms: list[tuple[str, float]]

    @property
    def first_at(self) -> float:
        return self.alarms[0][1]


def fire_alarms(
    plan: RecoveryPlan,
    f: ClientFactory,
    gap_s: float = 0.0,
    handled: Callable[[], bool] | None = None,
    *,
    bus: ClientFactory | None = None,
    primary_last: bool = False,
) -> Fired:
    """Put the plan's alarms in place and bring a quorum of them to ALARM one after another, ``gap_s`` apart (the
    quorum's alarms do not fire together), delivering each one's "CloudWatch Alarm State Change" event to its
    region's default bus (through ``bus``: the outage proxy, whose EventBridge delivers across regions), as AWS
    does: the first is a suspicion (Detect pre-warms), the last completes the quorum.

    The standby's own observers go first (they are what still answers when the primary region is down), unless
    ``primary_last``: then one of the primary region's alarms completes the quorum.
    """
    world.create_alarms(plan, f, world.health_check_of(plan, f, plan.primary_region))
    ordered = sorted(plan.signals, key=lambda s: s.region != plan.standby_region)
    quorum = ordered[: plan.quorum]
    if primary_last:
        primary = [s for s in plan.signals if s.region == plan.primary_region]
        if not primary:
            raise DrillError(f"the plan has no alarm in {plan.primary_region} to complete the quorum with")
        quorum = [s for s in ordered if s.region == plan.standby_region][: plan.quorum - 1] + primary[:1]
    fired: list[tuple[str, float]] = []
    for i, signal in enumerate(quorum):
        if i:
            _next_alarm_due(fired[-1][1] + gap_s, handled)
        at = time.time()
        f.cloudwatch(signal.region).set_alarm_state(AlarmName=signal.name, StateValue="ALARM", StateReason="drill")
        _deliver(signal.name, signal.region, bus or f)
        fired.append((signal.name, at))
    return Fired(fired)


def detect_decisions(f: ClientFactory, region: str, detect_function: str) -> int:
    """How many alarm events Detect has decided on (its "decision" log lines)."""
    try:
        events = f.client("logs", region).filter_log_events(
            logGroupName=f"/aws/lambda/{detect_function}", filterPattern="decision"
        )["events"]
    except Exception:  # noqa: BLE001 - no log yet: nothing decided
        return 0
    return sum('"message":"decision"' in e["message"].replace(" ", "") for e in events)


def deliver_again(f: ClientFactory, region: str, detect_function: str, start_input: dict[str, Any]) -> dict[str, Any]:
    """EventBridge's at-least-once delivery: the event that started the run (its id, time and alarm, from the run's
    input) delivered to Detect once more, as EventBridge redelivers it; Detect's decision."""
    trigger = start_input["trigger"]
    event = {
        "version": "0",
        "id": trigger["event_id"],
        "detail-type": "CloudWatch Alarm State Change",
        "source": EVENT_SOURCE,
        "account": ACCOUNT,
        "time": trigger["time"],
        "region": trigger["alarm_region"],
        "resources": [f"arn:aws:cloudwatch:{trigger['alarm_region']}:{ACCOUNT}:alarm:{trigger['alarm']}"],
        "detail": {
            "alarmName": trigger["alarm"],
            "state": {"value": "ALARM", "reason": "failoverctl drill", "timestamp": trigger["time"]},
            "previousState": {"value": "OK", "reason": "", "timestamp": trigger["time"]},
            "configuration": {"description": "failoverctl drill"},
        },
    }
    answer = f.client("lambda", region).invoke(FunctionName=detect_function, Payload=json.dumps(event).encode())
    decision: dict[str, Any] = json.loads(answer["Payload"].read() or b"{}")
    return decision


def _next_alarm_due(at: float, handled: Callable[[], bool] | None, timeout_s: float = 20.0) -> None:
    """Wait until ``at`` and until ``handled()`` says Detect has dealt with the previous alarm. On AWS Detect takes
    well under a second and the alarms minutes; with time scaled, the emulator's Lambda (about a second a call)
    would otherwise see both alarms at once and the suspicion would never be one."""
    deadline = time.monotonic() + timeout_s
    while handled is not None and not handled() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(max(0.0, at - time.time()))


def _deliver(alarm: str, region: str, f: ClientFactory) -> None:
    now = datetime.now(UTC)
    detail = {
        "alarmName": alarm,
        "state": {"value": "ALARM", "reason": "failoverctl drill", "timestamp": now.isoformat()},
        "previousState": {"value": "OK", "reason": "", "timestamp": now.isoformat()},
        "configuration": {"description": "failoverctl drill"},
    }
    result = f.client("events", region).put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": "CloudWatch Alarm State Change",
                "Detail": json.dumps(detail),
                "Resources": [f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:{alarm}"],
                "Time": now,
            }
        ]
    )
    if result.get("FailedEntryCount"):
        raise DrillError(f"EventBridge refused the alarm event: {result['Entries']}")


class WorldWatch:
    """When the world first showed each change of a failover into ``region`` (epoch s), seen as an outsider sees
    it, asked every ``every_s`` from a thread until ``stop``: ``dns`` (every name of the plan answers with the
    region, asked of DNS as a client asks), ``writer`` (the Aurora writer is there), ``capacity`` (its endpoints
    at active capacity)."""

    def __init__(self, plan: RecoveryPlan, region: str, f: ClientFactory, every_s: float = 0.1) -> None:
        self.plan, self.region, self.f, self.every_s = plan, region, f, every_s
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="drill-world-watch", daemon=True)

    def __enter__(self) -> WorldWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _probes(self) -> dict[str, Any]:
        active = {k: v.active_instance_count for k, v in world.variants_of(self.plan, self.region).items()}
        probes = {
            "writer": lambda: world.aurora_writer_region(self.plan, self.f, self.plan.standby_region) == self.region,
            "capacity": lambda: all(
                n >= active[k] for k, (_, n) in world.endpoint_config(self.plan, self.f, self.region).items()
            ),
        }
        if self.plan.name_servers:
            probes["dns"] = lambda: all(r["region"] == self.region for r in dns_reads.served_from(self.plan).values())
        return probes

    def _watch(self) -> None:
        probes = self._probes()
        while not self._stop.is_set() and len(self.seen) < len(probes):
            for name, probe in probes.items():
                if name not in self.seen:
                    with contextlib.suppress(Exception):  # not answering yet is not an answer
                        if probe():
                            self.seen[name] = time.time()
            self._stop.wait(self.every_s)


def invoke_readiness(f: ClientFactory, region: str, function: str) -> dict[str, Any]:
    """Invoke the deployed Readiness function (what its schedule does) and summarise its report."""
    event = json.loads((ROOT / "events" / "readiness_schedule.json").read_text())
    response = f.client("lambda", region).invoke(FunctionName=function, Payload=json.dumps(event).encode())
    body = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise DrillError(f"the Readiness function failed: {body}")
    report = body["plans"][0]
    return {
        "ready": report["ready"],
        "failing": report["failing"],
        "unknown": report["unknown"],
        "passed": sum(c["verdict"] == "pass" for c in report["checks"]),
        "failing_checks": [
            f"{c['name']} {c['resource']}: {c['detail']}" for c in report["checks"] if c["verdict"] == "fail"
        ],
    }


def emitted_metrics(f: ClientFactory, region: str, record_function: str) -> dict[str, Any]:
    """The run's figures as the Record function emitted them (embedded metric format, in its log)."""
    names = ("FailoverRuns", "FailoverSucceeded", "FailoverFailed", "AchievedRTO", "RPOExposure")
    try:
        events = f.client("logs", region).filter_log_events(
            logGroupName=f"/aws/lambda/{record_function}", filterPattern="FailoverRuns"
        )["events"]
    except Exception:  # noqa: BLE001 - the log is evidence, not a condition of the drill
        return {}
    for event in reversed(events):
        with contextlib.suppress(ValueError):
            doc = json.loads(event["message"])
            return {n: doc[n][0] if isinstance(doc.get(n), list) else doc.get(n) for n in names if n in doc}
    return {}


def function_principals(f: ClientFactory, function_names: list[str], region: str) -> dict[str, dict[str, Any]]:
    """Each deployed function (``REGION.NAME``, as its user agent names it): its identity as AWS sees it (its role's
    session) and its role's policy documents, as the stack created them: inline, then attached. An AWS managed policy
    the emulator does not carry (X-Ray's write access) is left out: it grants nothing the functions call through an
    SDK."""
    lam, iam = f.client("lambda", region), f.client("iam", "us-east-1")
    principals: dict[str, dict[str, Any]] = {}
    for key in function_names:
        name = key.removeprefix(f"{region}.")
        role_arn = lam.get_function_configuration(FunctionName=name)["Role"]
        role = role_arn.rsplit("/", 1)[-1]
        documents = [
            iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"]
            for p in iam.list_role_policies(RoleName=role)["PolicyNames"]
        ]
        for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            try:
                version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            except iam.exceptions.NoSuchEntityException:
                continue
            policy = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]
            documents.append(policy["Document"])
        account = role_arn.split(":")[4]
        principals[key] = {
            "principal": f"arn:aws:sts::{account}:assumed-role/{role}/{name}",
            "policies": [json.loads(d) if isinstance(d, str) else d for d in documents],
        }
    return principals
