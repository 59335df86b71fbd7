"""Route 53's DNS for the drill: an authoritative name server on 127.0.0.1 (UDP) that answers the emulated hosted
zones the way Route 53 does, so that the controller can be judged by what DNS answers.

- **Health checks** are evaluated as Route 53's checkers do, continuously, not when a query arrives:
  ``CLOUDWATCH_METRIC`` from the metric's data, not the alarm's state (Route 53 "monitors the data stream for the
  corresponding alarm"), with the alarm's settings as they were copied when the check first saw the alarm (a changed
  alarm reaches the check only through UpdateHealthCheck, which bumps its version); a check on an alarm Route 53
  does not support (a period under 60 s, which needs a high-resolution metric; an extended statistic; metric math)
  never follows it. No data in the evaluated periods, or a region that does not answer, takes the check's
  ``InsufficientDataHealthStatus``: Healthy, Unhealthy or LastKnownStatus;
  ``CALCULATED`` from its children and ``HealthThreshold``; ``HTTP``/``HTTPS``/``HTTP_STR_MATCH``/``TCP`` by probing
  the endpoint; ``Inverted`` and ``Disabled`` as documented. A changed status is seen only after it has held for
  ``route53_health_s`` (benchmarks/dependency_timings.json), divided by the drill's time scale.
- **Routing**, per group of records of one name and type: simple; ``failover`` (the primary while it is healthy or
  while the secondary is unhealthy); ``weighted`` (healthy records by weight, zero weights only when no other is
  healthy, and all of them when none is); ``latency`` (the healthy record of the region nearest the resolver, the
  ``--near`` region first). A CNAME answers every type of its name.

- A check's periods are the drill's: its seconds divided by the time scale, in whole seconds, at least one (the
  emulator keeps datapoints by the second), as the drill's CloudWatch (``ministack_as_aws``) evaluates the alarms.
  A period can then be shorter than a round of the checkers, which on AWS judge every minute-long period many
  times: LastKnownStatus is the status the last periods with data made, whether or not a round fell inside them.

Records, health checks and alarms are read from the emulator directly: Route 53's data plane and health checkers do
not go down with a region. A region the outage proxy blacks out does not answer its alarms' states.
Wire format: dnspython.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import socket
import socketserver
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3
import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
from botocore.exceptions import ClientError

from failoverctl.drill.outage import dependency_timings

_GOLDEN = (5**0.5 - 1) / 2

# The drill's geography: clients of these subnets (documentation ranges, RFC 5737) are nearest to the region.
GEOGRAPHY = {
    "us-east-1": "192.0.2.0/24",
    "us-west-2": "198.51.100.0/24",
    "eu-west-1": "203.0.113.0/24",
}


def region_near(client: str | None, default: str) -> str:
    """The region nearest a client address (EDNS Client Subnet), in the drill's geography; else ``default``."""
    if client:
        with contextlib.suppress(ValueError):
            address = ipaddress.ip_address(client)
            for region, subnet in GEOGRAPHY.items():
                if address in ipaddress.ip_network(subnet):
                    return region
    return default


_CLIENTS: dict[tuple[str, str, str], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _client(service: str, url: str, region: str = "us-east-1") -> Any:
    """One client per service and region: building a boto3 client costs more than the call it makes."""
    with _CLIENTS_LOCK:
        if (service, url, region) not in _CLIENTS:
            _CLIENTS[(service, url, region)] = boto3.client(  # type: ignore[call-overload]
                service,
                region_name=region,
                endpoint_url=url,
                aws_access_key_id="route53-dns",
                aws_secret_access_key="route53-dns",  # noqa: S106 - the local emulator's
            )
        return _CLIENTS[(service, url, region)]


# What Route 53 copies of an alarm into a health check (the API's CloudWatchAlarmConfiguration).
COPIED = (
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "Metrics",
)
_STATISTICS = {"Average", "Minimum", "Maximum", "Sum", "SampleCount"}


def route53_refuses(alarm: dict[str, Any]) -> list[str]:
    """What Route 53 does not support in an alarm (API reference, AlarmIdentifier: standard-resolution metrics only,
    so a period of 60 s or a multiple of it; Average, Minimum, Maximum, Sum or SampleCount; no extended statistics),
    written here apart from the controller's own check so that a mistake in one is not repeated in the other."""
    refused = []
    period = int(alarm.get("Period") or 0)
    if period < 60 or period % 60:
        refused.append(f"a period of {period} s (high-resolution; Route 53 supports standard resolution only)")
    if alarm.get("ExtendedStatistic"):
        refused.append(f"the extended statistic {alarm['ExtendedStatistic']}")
    elif alarm.get("Statistic") not in _STATISTICS:
        refused.append(f"the statistic {alarm.get('Statistic')}")
    if alarm.get("Metrics"):
        refused.append("metric math")
    return refused


def _statistic(name: str, seconds: list[dict[str, Any]]) -> float:
    """A period's statistic from its seconds' statistics."""
    count = sum(float(p["SampleCount"]) for p in seconds)
    if name == "Minimum":
        return min(float(p["Minimum"]) for p in seconds)
    if name == "Maximum":
        return max(float(p["Maximum"]) for p in seconds)
    if name == "Sum":
        return sum(float(p["Sum"]) for p in seconds)
    if name == "SampleCount":
        return count
    return sum(float(p["Sum"]) for p in seconds) / count if count else 0.0


def _breaches(alarm: dict[str, Any], value: float) -> bool:
    threshold, op = float(alarm.get("Threshold", 0)), alarm.get("ComparisonOperator", "")
    return {
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "GreaterThanThreshold": value > threshold,
        "LessThanThreshold": value < threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
    }.get(op, False)


@dataclass(frozen=True)
class AlarmCopy:
    """An alarm as a health check copied it."""

    version: int  # the health check's HealthCheckVersion when copied
    alarm: tuple[str, str]  # region, name
    settings: dict[str, Any]
    unsupported: list[str]


@dataclass
class Health:
    """One health check's status as the checkers last judged it, and as DNS sees it (after the lag)."""

    seen: bool = True
    pending: bool = True
    since: float = 0.0


@dataclass
class World:
    """The emulated zones and health checks, read from ministack; ``down`` names regions that do not answer."""

    emulator: str
    near: str = "us-east-1"
    lag_s: float = 0.0
    scale: float = 0.0  # the drill's time scale: a period lasts period / scale seconds here (0: every change instant)
    down: set[str] = field(default_factory=set)
    health: dict[str, Health] = field(default_factory=dict)
    copies: dict[str, AlarmCopy] = field(default_factory=dict)  # by health check id
    lock: threading.Lock = field(default_factory=threading.Lock)
    queries: int = 0

    def zones(self) -> list[tuple[str, str]]:
        zones = _client("route53", self.emulator).list_hosted_zones()["HostedZones"]
        return [(z["Name"].lower(), z["Id"].rsplit("/", 1)[-1]) for z in zones]

    def records(self, zone_id: str) -> list[dict[str, Any]]:
        r53, found, kwargs = _client("route53", self.emulator), [], {"HostedZoneId": zone_id}
        while True:
            page = r53.list_resource_record_sets(**kwargs)
            found += page["ResourceRecordSets"]
            if not page.get("IsTruncated"):
                return found
            kwargs |= {"StartRecordName": page["NextRecordName"], "StartRecordType": page["NextRecordType"]}

    # --- health -----------------------------------------------------------------------------------------------

    def judge(self, check_id: str, depth: int = 0) -> bool:
        """What the checkers find now (before the lag)."""
        config = _client("route53", self.emulator).get_health_check(HealthCheckId=check_id)["HealthCheck"]
        cfg = config["HealthCheckConfig"]
        if cfg.get("Disabled"):
            healthy = True
        elif cfg["Type"] == "CALCULATED":
            children = cfg.get("ChildHealthChecks", [])
            if depth:
                raise ValueError(f"health check {check_id}: a calculated check cannot be a child")
            healthy = sum(self.status(c, depth + 1) for c in children) >= cfg.get("HealthThreshold", len(children))
        elif cfg["Type"] == "CLOUDWATCH_METRIC":
            healthy = self._alarm_health(check_id, cfg, int(config.get("HealthCheckVersion", 1)))
        elif cfg["Type"] in ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"):
            healthy = _probe(cfg)
        else:
            raise ValueError(f"health check {check_id}: type {cfg['Type']} is not emulated")
        return healthy != bool(cfg.get("Inverted"))

    def _alarm_health(self, check_id: str, cfg: dict[str, Any], version: int) -> bool:
        alarm = cfg.get("AlarmIdentifier", {})
        region = alarm.get("Region", "")
        copy = self._copy_of(check_id, region, alarm.get("Name", ""), version)
        known = self.health.get(check_id)
        if copy is not None and copy.unsupported:
            return known.pending != bool(cfg.get("Inverted")) if known else True  # never follows the alarm
        state = None if copy is None or region in self.down else self.evaluate(region, copy.settings)
        if state is not None:
            return state == "OK"
        setting = str(cfg.get("InsufficientDataHealthStatus", "LastKnownStatus"))
        if setting == "LastKnownStatus":
            # The last status the data made: the checkers judge every period on AWS, a period lasts a minute, so
            # none is missed; here a period can be one second, shorter than a round of the checkers.
            last = None if copy is None or region in self.down else self.evaluate(region, copy.settings, latest=True)
            if last is not None:
                return last == "OK"
            return bool(known.pending != bool(cfg.get("Inverted"))) if known else True
        return setting == "Healthy"

    def _copy_of(self, check_id: str, region: str, name: str, version: int) -> AlarmCopy | None:
        """The alarm's settings as the health check copied them: when it first saw the alarm, and again only when
        the check is updated (its version changes). None: the alarm does not exist (yet)."""
        copy = self.copies.get(check_id)
        if copy is not None and copy.version == version:
            return copy
        if region in self.down:
            return copy
        found = _client("cloudwatch", self.emulator, region).describe_alarms(AlarmNames=[name])["MetricAlarms"]
        if not found:
            return None
        settings = {k: found[0][k] for k in COPIED if k in found[0]}
        copy = AlarmCopy(version, (region, name), settings, route53_refuses(found[0]))
        if copy.unsupported:
            print(
                f"health check {check_id}: Route 53 does not follow alarm {name} in {region}: "
                + "; ".join(copy.unsupported),
                flush=True,
            )
        self.copies[check_id] = copy
        return copy

    def bucket_s(self, period: float) -> float:
        """How long one alarm period lasts here: scaled, in whole seconds (the emulator keeps datapoints by the
        second), at least one; the same rule as the drill's CloudWatch (``ministack_as_aws.period_s``)."""
        return float(max(1, round(period / self.scale))) if self.scale else 1.0

    # How many periods back the last known status is looked for (``evaluate``'s ``latest``).
    LOOKBACK_PERIODS = 120

    def evaluate(
        self, region: str, alarm: dict[str, Any], now: float | None = None, *, latest: bool = False
    ) -> str | None:
        """The alarm's state from its metric's data, as CloudWatch evaluates it: the last EvaluationPeriods periods
        that have ended (at time scale 0, up to the current second), each breaching or not by the alarm's statistic,
        DatapointsToAlarm of them making ALARM. None: no data in those periods (insufficient data). ``latest``: the
        last EvaluationPeriods periods that had data (up to ``LOOKBACK_PERIODS`` back), the status they made."""
        now = time.time() if now is None else now
        bucket = self.bucket_s(float(alarm.get("Period", 60)))
        periods = int(alarm.get("EvaluationPeriods", 1))
        current = int(now // bucket)
        last = current - 1 if self.scale else current
        back = self.LOOKBACK_PERIODS if latest else periods + 2
        seconds = _client("cloudwatch", self.emulator, region).get_metric_statistics(
            Namespace=alarm["Namespace"],
            MetricName=alarm["MetricName"],
            Dimensions=alarm.get("Dimensions", []),
            StartTime=now - back * bucket,
            EndTime=now + 1,
            Period=1,
            Statistics=["SampleCount", "Sum", "Minimum", "Maximum"],
        )["Datapoints"]
        by_bucket: dict[int, list[dict[str, Any]]] = {}
        for point in seconds:
            index = int(point["Timestamp"].timestamp() // bucket)
            if (index <= last) if latest else (last - periods < index <= last):
                by_bucket.setdefault(index, []).append(point)
        if latest:
            by_bucket = {i: by_bucket[i] for i in sorted(by_bucket)[-periods:]}
        if not by_bucket:
            return None
        breaching = sum(_breaches(alarm, _statistic(alarm["Statistic"], p)) for p in by_bucket.values())
        return "ALARM" if breaching >= int(alarm.get("DatapointsToAlarm") or periods) else "OK"

    def status(self, check_id: str, depth: int = 0) -> bool:
        """The status DNS answers by: a change shows once it has held for the lag."""
        with self.lock:
            known = self.health.get(check_id)
        if known is None:
            healthy = self.judge(check_id, depth)
            with self.lock:
                known = self.health.setdefault(check_id, Health(healthy, healthy, time.monotonic()))
        return known.seen

    def discover(self) -> None:
        """Every health check of the account, judged from the round after its creation (so a CLOUDWATCH_METRIC
        check copies its alarm then, not when DNS first uses it)."""
        r53, kwargs = _client("route53", self.emulator), dict[str, str]()
        while True:
            page = r53.list_health_checks(**kwargs)
            for check in page["HealthChecks"]:
                if check["Id"] not in self.health:
                    with contextlib.suppress(Exception):
                        self.status(check["Id"])
            if not page.get("IsTruncated"):
                return
            kwargs = {"Marker": page["NextMarker"]}

    def tick(self, now: float | None = None) -> None:
        """One round of the checkers over every health check."""
        now = time.monotonic() if now is None else now
        with contextlib.suppress(Exception):
            self.discover()
        with self.lock:
            ids = list(self.health)
        for check_id in ids:
            try:
                judged = self.judge(check_id)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NoSuchHealthCheck":
                    with self.lock:  # deleted (or the emulator was reset): no longer judged
                        self.health.pop(check_id, None)
                        self.copies.pop(check_id, None)
                continue
            except Exception:  # noqa: BLE001, S112 - one check the checkers cannot judge now; the others still are
                continue
            with self.lock:
                known = self.health[check_id]
                if judged != known.pending:
                    known.pending, known.since = judged, now
                if known.seen != known.pending and now - known.since >= self.lag_s:
                    known.seen = known.pending

    # --- answers ----------------------------------------------------------------------------------------------

    def healthy(self, rrs: dict[str, Any]) -> bool:
        return "HealthCheckId" not in rrs or self.status(rrs["HealthCheckId"])

    def choose(self, group: list[dict[str, Any]], near: str | None = None) -> list[dict[str, Any]]:
        """The record(s) Route 53 answers a group of one name and type with, for a client nearest ``near``."""
        if all("SetIdentifier" not in r for r in group):
            return group
        if any("Failover" in r for r in group):
            primary = [r for r in group if r.get("Failover") == "PRIMARY"]
            secondary = [r for r in group if r.get("Failover") == "SECONDARY"]
            if primary and (self.healthy(primary[0]) or not (secondary and self.healthy(secondary[0]))):
                return primary[:1]
            return secondary[:1]
        healthy = [r for r in group if self.healthy(r)] or group  # none healthy: all count as healthy
        if any("Region" in r for r in group):
            nearest = near or self.near
            return sorted(healthy, key=lambda r: (r["Region"] != nearest, r["Region"]))[:1]
        weighted = [r for r in healthy if int(r.get("Weight", 0)) > 0] or healthy
        total = sum(int(r.get("Weight", 0)) for r in weighted)
        if total == 0:
            return weighted[self.queries % len(weighted) : self.queries % len(weighted) + 1]
        point, acc = ((self.queries * _GOLDEN) % 1.0) * total, 0
        for rrs in weighted:
            acc += int(rrs.get("Weight", 0))
            if point < acc:
                return [rrs]
        return weighted[-1:]

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        with self.lock:
            self.queries += 1
        client = next((o.address for o in query.options if isinstance(o, dns.edns.ECSOption)), None)
        near = region_near(client, self.near)
        question = query.question[0]
        qname, qtype = question.name.to_text().lower(), question.rdtype
        zone = max((z for z in self.zones() if qname.endswith(z[0])), default=None, key=lambda z: len(z[0]))
        if zone is None:
            response.set_rcode(dns.rcode.REFUSED)
            return bytes(response.to_wire())
        named = [r for r in self.records(zone[1]) if r["Name"].lower() == qname]
        if not named:
            response.set_rcode(dns.rcode.NXDOMAIN)
        for kind in [dns.rdatatype.to_text(qtype)] + (["CNAME"] if qtype != dns.rdatatype.CNAME else []):
            group = [r for r in named if r["Type"] == kind]
            if not group:
                continue
            for rrs in self.choose(group, near):
                values = [v["Value"] for v in rrs.get("ResourceRecords", [])]
                rrset = dns.rrset.from_text_list(
                    qname, int(rrs.get("TTL", 60)), "IN", kind, values, origin=dns.name.root, relativize=False
                )
                response.answer.append(rrset)
            break
        return bytes(response.to_wire())


def _probe(cfg: dict[str, Any]) -> bool:
    host = cfg.get("IPAddress") or cfg.get("FullyQualifiedDomainName", "")
    port = int(cfg.get("Port") or (443 if cfg["Type"].startswith("HTTPS") else 80))
    if cfg["Type"] == "TCP":
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError:
            return False
        return True
    scheme = "https" if cfg["Type"].startswith("HTTPS") else "http"
    # Route 53's checkers do not validate the endpoint's certificate; neither does the drill's.
    unverified = ssl._create_unverified_context() if scheme == "https" else None  # noqa: S323
    url = f"{scheme}://{host}:{port}{cfg.get('ResourcePath', '/')}"
    try:
        with urllib.request.urlopen(url, timeout=2, context=unverified) as r:  # noqa: S310 - the check's endpoint
            body = r.read(5120).decode("utf-8", "replace")
            ok = 200 <= r.status < 400
    except OSError:
        return False
    return ok and (not cfg["Type"].endswith("STR_MATCH") or cfg.get("SearchString", "") in body)


class _Handler(socketserver.BaseRequestHandler):
    server: DnsServer

    def handle(self) -> None:
        data, sock = self.request
        try:
            reply = self.server.world.answer(data)
        except Exception:  # noqa: BLE001 - a query the world cannot answer: SERVFAIL, as a name server would
            try:
                failed = dns.message.make_response(dns.message.from_wire(data))
            except Exception:  # noqa: BLE001 - not even a DNS message: no answer
                return
            failed.set_rcode(dns.rcode.SERVFAIL)
            reply = failed.to_wire()
        sock.sendto(reply, self.client_address)


class DnsServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, world: World) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.world = world
        self.stopped = threading.Event()

    def shutdown(self) -> None:
        """Stop answering, and stop the checkers' rounds too."""
        self.stopped.set()
        super().shutdown()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


def _follow(world: World, proxy: str, interval_s: float, stopped: threading.Event) -> None:
    """The checkers' rounds, and what the outage proxy says: which regions are dark, how fast time runs."""
    lag = dependency_timings()["route53_health_s"]
    while not stopped.wait(interval_s):
        try:
            if proxy:
                with urllib.request.urlopen(f"{proxy}/_outage/state", timeout=5) as r:  # noqa: S310 - loopback
                    state = json.loads(r.read())
                world.down = set(state["down_regions"])
                world.lag_s = float(lag) / state["time_scale"] if state["time_scale"] else 0.0
                world.scale = float(state["time_scale"])
            world.tick()
        except Exception:  # noqa: BLE001, S112 - an emulator restarting: the next round tries again
            continue


def serve(port: int, world: World, proxy: str = "", interval_s: float | None = 0.25) -> DnsServer:
    """The server in threads of this process; the checkers' rounds every ``interval_s`` (None: only when
    ``world.tick()`` is called, as the tests do)."""
    server = DnsServer(port, world)
    threading.Thread(target=server.serve_forever, name="route53-dns", daemon=True).start()
    if interval_s is not None:
        args = (world, proxy, interval_s, server.stopped)
        threading.Thread(target=_follow, args=args, name="route53-checkers", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m failoverctl.drill.route53_dns", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--emulator", required=True, help="ministack (Route 53, CloudWatch)")
    parser.add_argument("--proxy", default="", help="the outage proxy, to know which regions are dark")
    parser.add_argument("--near", default="us-east-1", help="the region latency records count as nearest")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between the checkers' rounds")
    args = parser.parse_args(argv)
    serve(args.port, World(args.emulator, near=args.near), args.proxy, args.interval)
    threading.Event().wait()


if __name__ == "__main__":
    main()
