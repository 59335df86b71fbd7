"""Where traffic goes, asked of DNS itself: the plan's names resolved against the zone's authoritative name servers
(the plan's ``route53.name_servers``), the way a resolver would, with real queries (dnspython). No Route 53 API
call: this is the data plane, answered from every edge location whatever region is down.

An answer is read back as a region through the plan's ``values`` (the answers that mean "served from there").
"""

from __future__ import annotations

import socket
from typing import Any

from failover_controller.errors import TransientAwsError
from failover_controller.plan import DnsRecord, RecoveryPlan

TIMEOUT_S = 2.0


def server_address(spec: str) -> tuple[str, int]:
    """``host`` or ``host:port`` as an address to send queries to (the host resolved by the system's resolver)."""
    host, _, port = spec.partition(":")
    number = int(port) if port else 53
    try:
        info = socket.getaddrinfo(host, number, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise TransientAwsError(f"name server {spec}: cannot be resolved ({exc})") from exc
    return str(info[0][4][0]), number


def normalized(answers: Any) -> tuple[str, ...]:
    return tuple(sorted(str(a).lower().rstrip(".") for a in answers))


def ask(plan: RecoveryPlan, record: DnsRecord, client_subnet: str | None = None) -> tuple[str, ...]:
    return ask_name(plan, record.fqdn, record.type, client_subnet)


def ask_name(plan: RecoveryPlan, fqdn: str, rdtype: str, client_subnet: str | None = None) -> tuple[str, ...]:
    """The answers of the first name server that answers (none: the name has no such record), asked for clients of
    ``client_subnet`` (EDNS Client Subnet, which Route 53 answers latency records by) when given. dnspython is
    imported here, not with the module: a function that never asks DNS does not pay for it at cold start."""
    import dns.edns  # noqa: PLC0415
    import dns.exception  # noqa: PLC0415
    import dns.message  # noqa: PLC0415
    import dns.query  # noqa: PLC0415
    import dns.rcode  # noqa: PLC0415
    import dns.rdatatype  # noqa: PLC0415

    options: list[dns.edns.Option] = []
    if client_subnet:
        address, _, bits = client_subnet.partition("/")
        options.append(dns.edns.ECSOption(address, int(bits)))
    query = dns.message.make_query(
        fqdn, dns.rdatatype.from_text(rdtype), use_edns=0 if options else None, options=options or None
    )
    failures = []
    for spec in plan.name_servers:
        try:
            address, port = server_address(spec)
            response, _ = dns.query.udp_with_fallback(query, address, timeout=TIMEOUT_S, port=port)
        except (dns.exception.DNSException, OSError, TransientAwsError) as exc:
            failures.append(f"{spec}: {type(exc).__name__} {exc}".strip())
            continue
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            failures.append(f"{spec}: {dns.rcode.to_text(response.rcode())}")
            continue
        wanted = dns.rdatatype.from_text(rdtype)
        return normalized(rdata.to_text() for rrset in response.answer if rrset.rdtype == wanted for rdata in rrset)
    raise TransientAwsError(f"no name server of {fqdn} answered: {'; '.join(failures)}")


def region_of(record: DnsRecord, answers: tuple[str, ...]) -> str | None:
    """The region whose answers these are; None: no region's (an unknown answer, or none)."""
    for region, values in (record.values or {}).items():
        if answers and normalized(values) == answers:
            return region
    return None


def served_from(plan: RecoveryPlan) -> dict[str, dict[str, Any]]:
    """Per record of the plan (``name type``): the answers now and the region they mean. Latency records are
    answered by where the client is: they are asked once for each region's clients (``route53.client_subnets``),
    and ``region`` is a region only when every region's clients are answered with it (``by_client`` says who gets
    what), so a controller asking from its own region is not fooled by being near it."""
    seen: dict[str, dict[str, Any]] = {}
    for record in plan.records:
        key = f"{record.fqdn} {record.type}"
        if plan.routing_policy != "latency" or not plan.client_subnets:
            answers = ask(plan, record)
            seen[key] = {"answers": list(answers), "region": region_of(record, answers)}
            continue
        asked = {region: ask(plan, record, subnet) for region, subnet in plan.client_subnets.items()}
        by_client = {region: region_of(record, answers) for region, answers in asked.items()}
        regions = set(by_client.values())
        seen[key] = {
            "answers": sorted({a for answers in asked.values() for a in answers}),
            "region": regions.pop() if len(regions) == 1 else None,
            "by_client": by_client,
        }
    return seen


def routed_to(plan: RecoveryPlan, claims: dict[str, bool]) -> str | None:
    """Where Route 53 sends the plan's names, given which regions claim (each region's records carry the other's
    claim check, unhealthy while it claims); None: each client's nearest region. As Route 53 documents it, records
    that are all unhealthy are all treated as healthy: failover records then answer with the primary, weighted records
    by weight (the primary's), latency records with the nearest region."""
    claiming = [region for region in plan.regions if claims.get(region)]
    if len(claiming) == 1:
        return claiming[0]
    return None if plan.routing_policy == "latency" else plan.primary_region


def answers_as(seen: dict[str, Any], expected: str | None) -> bool:
    """A record's answers (``served_from``) as ``routed_to`` expects them: with the region, or (None) each region's
    clients with their own region."""
    if expected is not None:
        return bool(seen["region"] == expected)
    return bool(seen.get("by_client")) and all(got == region for region, got in seen["by_client"].items())


def described(expected: str | None) -> str:
    return expected or "each client's nearest region"


# The primary's claim as DNS tells it. `failoverctl dns setup` makes a TXT record of failover routing: PRIMARY answers
# "free" and carries the health check of the primary's claim (healthy while the primary does not claim), SECONDARY
# answers "claimed". So the standby learns whether the primary claims without calling the primary (which may be
# dark): a dark primary's check keeps its last known status, which is what Route 53 answers the plan's names by.
PROBE_LABEL = "_primary-claim"
PROBE_FREE, PROBE_CLAIMED = "free", "claimed"


def probe_name(plan: RecoveryPlan) -> str:
    return f"{PROBE_LABEL}.{plan.records[0].fqdn}"


def primary_claim(plan: RecoveryPlan) -> bool | None:
    """Whether the primary claims the plan's traffic, asked of DNS; None when the zone has no probe (a setup made
    before it). The answer follows a claim as the plan's names do: after the health check's interval."""
    said = {a.strip('"') for a in ask_name(plan, probe_name(plan), "TXT")}
    if said == {PROBE_CLAIMED}:
        return True
    if said == {PROBE_FREE}:
        return False
    if not said:
        return None
    raise TransientAwsError(f"{probe_name(plan)} TXT answers {sorted(said)}, neither {PROBE_FREE} nor {PROBE_CLAIMED}")
