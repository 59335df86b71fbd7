"""The containers' way to the drill's proxy and name server (failoverctl.drill.relay), on the loopback here."""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from failoverctl.drill import relay


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + 4))
        self.end_headers()
        self.wfile.write(b"got " + body)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def serving(
    target: Callable[[socket.socket, tuple[str, int]], None], listen: socket.socket, upstream: tuple[str, int]
) -> Iterator[tuple[str, int]]:
    thread = threading.Thread(target=target, args=(listen, upstream), daemon=True)
    thread.start()
    try:
        yield listen.getsockname()
    finally:
        listen.close()


def test_interface_address_reads_the_interface() -> None:
    assert relay.interface_address("lo") == "127.0.0.1"


def test_a_missing_interface_is_named() -> None:
    with pytest.raises(ValueError, match=r"no IPv4 address on nosuch0 .*is a Docker engine running\?"):
        relay.interface_address("nosuch0")


def test_tcp_connections_reach_the_target_unchanged() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        listen = socket.create_server(("127.0.0.1", 0))
        with serving(relay.relay, listen, ("127.0.0.1", server.server_port)) as (host, port):
            for body in (b"first", b"second"):
                request = urllib.request.Request(f"http://{host}:{port}/", data=body, method="POST")
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the loopback
                    assert response.read() == b"got " + body
    finally:
        server.shutdown()
        server.server_close()


def test_datagrams_are_answered_to_their_sender() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
        upstream.bind(("127.0.0.1", 0))

        def answer() -> None:
            for _ in range(2):
                query, sender = upstream.recvfrom(512)
                upstream.sendto(query.upper(), sender)

        threading.Thread(target=answer, daemon=True).start()
        listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listen.bind(("127.0.0.1", 0))
        with serving(relay.relay_udp, listen, upstream.getsockname()) as address:
            for query in (b"query one", b"query two"):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                    client.settimeout(10)
                    client.sendto(query, address)
                    assert client.recv(512) == query.upper()
