"""Outbound URL safety (issue #9): addresses in every form, IPv4 inside IPv6 included, and the
connection going to the address that was checked (no second DNS lookup: DNS rebinding)."""

from __future__ import annotations

import http.client
import http.server
import socket
import threading
import urllib.request
from collections.abc import Iterator

import pytest

from chalicelib import netsafety

REFUSED = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "192.0.2.1",  # documentation
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "::10.0.0.1",
    "::93.184.216.34",  # deprecated form: where would it go?
    "64:ff9b::127.0.0.1",  # NAT64
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::c0a8:101",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:7f00:0001::1",
    "2002:0a00:0001::",  # 6to4 of 10.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:c0a8:0101::",  # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001::1",
    "2001:0:5db8:d822::1",  # Teredo, whatever its server
    "not-an-address",
]
ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "2606:2800:220:1:248:1893:25c8:1946",
    "2606:4700::1111",
    "::ffff:93.184.216.34",  # IPv4-mapped public
    "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34
    "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
]


@pytest.mark.parametrize("address", REFUSED)
def test_refused_addresses(address):
    assert netsafety._address_refused(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses(address):
    assert not netsafety._address_refused(address)


@pytest.mark.parametrize("address", ["127.0.0.1", "2002:7f00:1::", "64:ff9b::7f00:1", "::ffff:7f00:1"])
def test_urls_naming_refused_literals(address):
    host = f"[{address}]" if ":" in address else address
    reason = netsafety.unsafe_reason(f"http://{host}:8080/hook")
    assert reason is not None and "not a public address" in reason


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        _Recorder.hits.append(self.headers.get("Host", ""))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def loopback_server() -> Iterator[int]:
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def _rebinding(monkeypatch, answers: list[str]) -> list[tuple[str, int]]:
    """``rebind.example`` resolves to ``answers`` in turn (the last one from then on); connections
    are recorded, and refused unless they go to loopback."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.create_connection
    left = list(answers)
    connected: list[tuple[str, int]] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        address = left.pop(0) if len(left) > 1 else left[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 80)))]

    def create_connection(target, *args, **kwargs):
        connected.append((target[0], target[1]))
        if target[0] != "127.0.0.1":
            raise ConnectionRefusedError("no network in tests")
        return real_connect(target, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return connected


def test_dns_rebinding_cannot_reach_loopback(monkeypatch, loopback_server):
    """The name resolves to a public address when checked and to loopback afterwards: the request
    goes to the checked address (and fails here), never to the loopback server."""
    connected = _rebinding(monkeypatch, ["93.184.216.34", "127.0.0.1"])
    url = f"http://rebind.example:{loopback_server}/hook"
    assert netsafety.call_public_url(urllib.request.Request(url), timeout=3, purpose="test") is None
    assert connected == [("93.184.216.34", loopback_server)]
    assert _Recorder.hits == []


def test_pinned_connection_sends_the_host_name(monkeypatch, loopback_server):
    """A checked address is connected to directly, with the URL's name in the Host header (here the
    check is relaxed so that the loopback server can play the public host)."""
    connected = _rebinding(monkeypatch, ["127.0.0.1"])
    monkeypatch.setattr(netsafety, "_address_refused", lambda address: False)
    url = f"http://rebind.example:{loopback_server}/hook"
    assert netsafety.call_public_url(urllib.request.Request(url), timeout=3, purpose="test") == 204
    assert connected == [("127.0.0.1", loopback_server)]
    assert _Recorder.hits == [f"rebind.example:{loopback_server}"]


def test_https_connections_verify_the_host_name(monkeypatch):
    """For HTTPS the socket goes to the checked address while SNI and the certificate check use the
    name (the default context verifies it)."""
    handler = netsafety._PinnedHTTPSHandler("93.184.216.34")
    context = handler._context
    assert context.check_hostname and context.verify_mode.name == "CERT_REQUIRED"
    wrapped: list[str | None] = []
    monkeypatch.setattr(
        context, "wrap_socket", lambda sock, server_hostname=None: wrapped.append(server_hostname) or sock
    )
    connected = _rebinding(monkeypatch, ["93.184.216.34"])
    monkeypatch.setattr(
        socket, "create_connection", lambda target, *a, **k: connected.append(target) or socket.socket()
    )
    connection = netsafety._pinned(
        http.client.HTTPSConnection, "93.184.216.34", "rebind.example", context=context
    )
    connection.connect()
    connection.sock.close()
    assert connected == [("93.184.216.34", 443)]
    assert wrapped == ["rebind.example"]


@pytest.fixture
def allow(monkeypatch):
    """``allow("127.0.0.0/8, ::1/128")``: set SHELF_OUTBOUND_ALLOW_CIDRS for this test."""
    from chalicelib.config import settings

    def set_(value: str) -> None:
        monkeypatch.setenv("SHELF_OUTBOUND_ALLOW_CIDRS", value)
        settings.cache_clear()

    yield set_
    monkeypatch.delenv("SHELF_OUTBOUND_ALLOW_CIDRS", raising=False)
    settings.cache_clear()


def test_the_local_allow_setting_opens_only_the_networks_it_names(allow):
    assert netsafety.unsafe_reason("http://127.0.0.1:8080/x") is not None  # empty by default
    allow("127.0.0.0/8, ::1/128")
    assert netsafety.unsafe_reason("http://127.0.0.1:8080/x") is None
    assert netsafety.unsafe_reason("http://127.9.9.9/x") is None
    assert netsafety.unsafe_reason("http://[::1]/x") is None
    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "http://[fe80::1]/", "ftp://127.0.0.1/"):
        assert netsafety.unsafe_reason(url) is not None, url


def test_a_malformed_allow_setting_names_the_variable(allow):
    from chalicelib.config import settings

    allow("127.0.0.0/8, not-a-network")
    with pytest.raises(ValueError, match="SHELF_OUTBOUND_ALLOW_CIDRS"):
        settings()
