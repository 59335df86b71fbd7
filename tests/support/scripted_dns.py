"""A name server whose answers a test writes: on 127.0.0.1 (UDP, a free port), for the unit tests of what the
controller reads from DNS. Route 53's own behaviour (health checks, routing) is the drill's (route53_dns); this one
answers exactly what it is told, and records what it was asked."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dns.edns
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


@dataclass
class Script:
    # (name, type, client subnet or None) -> the answers' texts; a subnet's own entry wins over the name's
    answers: dict[tuple[str, str, str | None], list[str]] = field(default_factory=dict)
    rcode: dns.rcode.Rcode | None = None  # every answer with this rcode instead (SERVFAIL, REFUSED, ...)
    asked: list[tuple[str, str, str | None]] = field(default_factory=list)

    def answer(self, name: str, rdtype: str, values: list[str], subnet: str | None = None) -> None:
        self.answers[(name.lower().rstrip(".") + ".", rdtype, subnet)] = values


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        data, sock = self.request
        query = dns.message.from_wire(data)
        question = query.question[0]
        name, rdtype = question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype)
        ecs = next((o for o in query.options if isinstance(o, dns.edns.ECSOption)), None)
        subnet = f"{ecs.address}/{ecs.srclen}" if ecs else None
        script = self.server.script
        script.asked.append((name, rdtype, subnet))
        response = dns.message.make_response(query)
        if script.rcode is not None:
            response.set_rcode(script.rcode)
        else:
            values = script.answers.get((name, rdtype, subnet), script.answers.get((name, rdtype, None)))
            if values is None and not any(k[0] == name for k in script.answers):
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif values:
                response.answer.append(dns.rrset.from_text(name, 60, "IN", rdtype, *values))
        sock.sendto(response.to_wire(), self.client_address)


class _Server(socketserver.ThreadingUDPServer):
    daemon_threads = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"


@contextmanager
def scripted_dns() -> Iterator[tuple[str, Script]]:
    """A running name server (its ``host:port``) and the script it answers from; stopped on exit."""
    script = Script()
    server = _Server(script)
    thread = threading.Thread(target=server.serve_forever, name="scripted-dns", daemon=True)
    thread.start()
    try:
        yield server.address, script
    finally:
        server.shutdown()
        server.server_close()
