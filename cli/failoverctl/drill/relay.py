"""The drill's outage proxy and Route 53 DNS, for containers: a relay on the Docker bridge's host address.

A container that `sam local invoke` starts sits on Docker's bridge, where 127.0.0.1 is the container itself; the
emulators, the outage proxy and the zone's name server listen on the host's loopback only. This relay listens on
the bridge's host address (``docker0``: reachable from this machine's containers, from no other machine) and passes
each TCP connection to the proxy and each UDP query to the name server unchanged, so a locally invoked function
meets the same outage and the same emulated world as the deployed ones. ``failoverctl drill --for-containers``
starts it; it stops with the emulators.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import socket
import struct
import threading

SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


def interface_address(name: str = "docker0") -> str:
    """The IPv4 address of the interface ``name``; ValueError when it has none (Docker is not running here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError as exc:
            raise ValueError(f"no IPv4 address on {name} ({exc.strerror}): is a Docker engine running?") from exc
    return socket.inet_ntoa(packed[20:24])


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _serve(client: socket.socket, target: tuple[str, int]) -> None:
    with client, contextlib.suppress(OSError), socket.create_connection(target, timeout=30) as upstream:
        upstream.settimeout(None)
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()


def relay(listen: socket.socket, target: tuple[str, int]) -> None:
    """Accept on ``listen`` for ever, each connection relayed to ``target`` in a thread of its own."""
    while True:
        try:
            client, _ = listen.accept()
        except OSError:  # closed: the relay stops
            return
        threading.Thread(target=_serve, args=(client, target), daemon=True).start()


def _answer(listen: socket.socket, query: bytes, client: tuple[str, int], target: tuple[str, int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream, contextlib.suppress(OSError):
        upstream.settimeout(10)
        upstream.sendto(query, target)
        listen.sendto(upstream.recv(65535), client)


def relay_udp(listen: socket.socket, target: tuple[str, int]) -> None:
    """Each datagram on ``listen`` to ``target``, and its answer back to the sender."""
    while True:
        try:
            query, client = listen.recvfrom(65535)
        except OSError:
            return
        threading.Thread(target=_answer, args=(listen, query, client, target), daemon=True).start()


def _address(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m failoverctl.drill.relay", description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, help="ADDRESS:PORT (the Docker bridge's host address), TCP")
    parser.add_argument("--to", required=True, help="127.0.0.1:PORT (the outage proxy)")
    parser.add_argument("--listen-udp", help="ADDRESS:PORT, UDP")
    parser.add_argument("--to-udp", help="127.0.0.1:PORT (the zone's name server)")
    args = parser.parse_args(argv)
    if args.listen_udp:
        datagrams = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        datagrams.bind(_address(args.listen_udp))
        threading.Thread(target=relay_udp, args=(datagrams, _address(args.to_udp)), daemon=True).start()
    with socket.create_server(_address(args.listen)) as listen:
        relay(listen, _address(args.to))


if __name__ == "__main__":
    main()
