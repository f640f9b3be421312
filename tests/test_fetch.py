"""Fetching metadata safely (real local HTTP/HTTPS servers, no Internet), Entra metadata hints,
certificate rollover, and the metadata's own signature."""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from factory import TENANT, KeyPair, make_keypair, sign
from factory import metadata as make_metadata
from helpers import CORPUS, NOW
from lxml import etree
from metaserver import LocalCA, MetaServer, Reply, make_ca
from realparts import free_port

from samldebug import fetch, metadata
from samldebug.certs import Anchor, load_certs
from samldebug.config import FetchPolicy, Limits
from samldebug.fetch import (
    Fetched,
    MemoryCache,
    cache_note,
    entra_metadata_url,
    fetch_metadata,
)
from samldebug.metadata import classify as classify_metadata
from samldebug.metadata import rollover
from samldebug.metadata import verify_signature as verify_metadata_signature
from samldebug.model import AnalysisStop, Finding, Severity
from samldebug.xmlsafe import parse

APP_ID = "4f1c2a3b-5d6e-4f70-8091-a2b3c4d5e6f7"
ENTRA_APP_URL = entra_metadata_url(TENANT, APP_ID)
SECRET = b"SECRET-BODY-MARKER-7f3a"  # put in bodies; must never reach a finding


# --- fixtures -------------------------------------------------------------------------------------------


@cache
def keys() -> dict[str, KeyPair]:
    """Certificates around NOW (2026-03-01): expired, old (expires in 29 days), active, new (future)."""
    return {
        "expired": make_keypair(not_before=datetime(2022, 1, 1, tzinfo=UTC), days=365),
        "old": make_keypair(not_before=datetime(2023, 4, 1, tzinfo=UTC), days=3 * 365),
        "active": make_keypair(not_before=datetime(2026, 2, 15, tzinfo=UTC), days=3 * 365),
        "new": make_keypair(not_before=datetime(2026, 6, 1, tzinfo=UTC), days=3 * 365),
    }


def rollover_metadata() -> bytes:
    return make_metadata([keys()["old"].cert, keys()["active"].cert])


class FakeDNS:
    """A resolver (socket.getaddrinfo's shape) answering from a table; records every question."""

    def __init__(self, table: dict[str, list[str]] | None = None, hang: bool = False) -> None:
        self.table = dict(table or {})
        self.calls: list[str] = []
        self.answered: list[str] = []
        self.hang = hang  # never answer until `release` is set (a resolver that hangs)
        self.release = threading.Event()

    def __call__(self, host: str, port: int, family: int = 0, type: int = 0, *rest: int) -> list[tuple[Any, ...]]:
        self.calls.append(host)
        if self.hang:
            self.release.wait(30)
        self.answered.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in self.table[host]
        ]


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection urllib3 opens, by address (it connects only through this function)."""
    seen: list[tuple[str, int]] = []
    real = urllib3.util.connection.create_connection

    def spy(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        seen.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", spy)
    return seen


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return make_ca(tmp_path_factory.mktemp("ca"), ("metadata.test", "inside.test"))


@pytest.fixture
def server() -> Iterator[MetaServer]:
    with MetaServer() as srv:
        yield srv


@pytest.fixture
def tls_server(ca: LocalCA) -> Iterator[MetaServer]:
    with MetaServer(tls=ca) as srv:
        yield srv


def lab(**kw: Any) -> FetchPolicy:
    """The test configuration: loopback allowed, http allowed, short timeouts."""
    base: dict[str, Any] = dict(
        allowed_hosts=("127.0.0.1", "::1", "metadata.test"),
        allow_http=True,
        allow_private=True,
        connect_timeout=1.0,
        total_timeout=2.0,
    )
    base.update(kw)
    return FetchPolicy(**base)


def refused(url: str, policy: FetchPolicy, **kw: Any) -> Finding:
    with pytest.raises(AnalysisStop) as info:
        fetch_metadata(url, policy, now=NOW, **kw)
    f = info.value.finding
    assert f.fix, f
    assert f.severity is Severity.ERROR
    return f


def no_body_in(f: Finding) -> None:
    for text in (f.title, f.expected, f.actual, f.fix, f.where):
        assert SECRET.decode() not in (text or "")


# --- Entra URLs -----------------------------------------------------------------------------------------


def test_entra_metadata_url_for_every_cloud() -> None:
    assert entra_metadata_url(TENANT, APP_ID) == (
        f"https://login.microsoftonline.com/{TENANT}/federationmetadata/2007-06/federationmetadata.xml?appid={APP_ID}"
    )
    assert entra_metadata_url(TENANT, None, "usgov").startswith(f"https://login.microsoftonline.us/{TENANT}/")
    assert entra_metadata_url("Contoso.OnMicrosoft.com", APP_ID.upper(), "china") == (
        "https://login.partner.microsoftonline.cn/contoso.onmicrosoft.com/federationmetadata/2007-06/"
        f"federationmetadata.xml?appid={APP_ID}"
    )
    assert "?appid" not in entra_metadata_url(TENANT, "")
    assert entra_metadata_url("common", None).startswith("https://login.microsoftonline.com/common/")


@pytest.mark.parametrize(
    ("tenant", "app_id", "cloud"),
    [
        ("../evil", None, "global"),
        ("contoso.com/x", None, "global"),
        ("contoso", None, "global"),
        ("a b.com", None, "global"),
        ("", None, "global"),
        ("10.0.0.1", None, "global"),
        ("evil.com?x=", None, "global"),
        (TENANT, "not-a-guid", "global"),
        (TENANT, APP_ID + "&x=1", "global"),
        (TENANT, APP_ID, "germany"),
    ],
)
def test_entra_metadata_url_rejects_bad_ids(tenant: str, app_id: str | None, cloud: str) -> None:
    with pytest.raises(AnalysisStop) as info:
        entra_metadata_url(tenant, app_id, cloud)
    assert info.value.finding.code == "entra_id_invalid"


# --- fetching from a real local server ------------------------------------------------------------------


def test_fetch_rollover_metadata_over_http(server: MetaServer) -> None:
    body = rollover_metadata()
    server.routes["/md.xml?appid=x"] = Reply(body=body)
    got = fetch_metadata(server.url("/md.xml?appid=x"), lab(), now=NOW)
    assert got == Fetched(server.url("/md.xml?appid=x"), body, NOW, False, 0)
    assert server.seen[0].host == f"127.0.0.1:{server.port}"
    info = metadata.load(got.body, "fetched", Limits())
    assert [s for _, s in rollover(info.signing_certs, NOW)] == ["old", "active"]
    found = {f.code: f for f in classify_metadata(info, got.url, now=NOW)}
    assert "cert_rollover" in found and "old" in (found["cert_rollover"].actual or "")
    assert found["cert_expiring"].severity is Severity.WARNING  # the old one: 29 days left


def test_fetch_bom_and_crlf_variant(server: MetaServer) -> None:
    body = b"\xef\xbb\xbf" + make_metadata([keys()["active"].cert]).replace(b"\n", b"\r\n").replace(b"><", b">\r\n<")
    server.routes["/bom.xml"] = Reply(body=body, content_type="text/xml; charset=utf-8")
    got = fetch_metadata(server.url("/bom.xml"), lab(), now=NOW)
    assert got.body.startswith(b"\xef\xbb\xbf") and b"\r\n" in got.body
    info = metadata.load(got.body, "fetched", Limits())
    assert info.signing_certs == (keys()["active"].cert,)


def test_fetch_over_https_pins_the_address_and_keeps_the_name(
    tls_server: MetaServer, ca: LocalCA, connections: list[tuple[str, int]]
) -> None:
    body = rollover_metadata()
    tls_server.routes["/md.xml"] = Reply(body=body)
    dns = FakeDNS({"metadata.test": ["127.0.0.1"]})
    policy = FetchPolicy(allowed_hosts=("metadata.test",), allow_private=True, ca_file=ca.ca_file, total_timeout=3)
    got = fetch_metadata(tls_server.url("/md.xml", "metadata.test"), policy, now=NOW, resolver=dns)
    assert got.body == body
    assert dns.calls == ["metadata.test"]  # resolved once, by us
    assert connections == [("127.0.0.1", tls_server.port)]  # connected to that exact address
    seen = tls_server.seen[0]
    assert seen.host == f"metadata.test:{tls_server.port}"  # Host header keeps the name
    assert seen.server_name == "metadata.test"  # and so does TLS SNI


def test_dns_rebinding_cannot_move_the_fetch(server: MetaServer, connections: list[tuple[str, int]]) -> None:
    """A resolver that answers differently the second time is asked only once; urllib3 never resolves."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])

    def rebinding(host: str, port: int, *rest: int) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in next(answers)]

    server.routes["/md.xml"] = Reply(body=make_metadata())
    fetch_metadata(server.url("/md.xml", "metadata.test"), lab(), now=NOW, resolver=rebinding)
    assert connections == [("127.0.0.1", server.port)]
    assert next(answers) == ["10.0.0.1"]  # the second answer was never asked for


def test_tls_without_the_ca_or_with_another_name_is_refused(tls_server: MetaServer, ca: LocalCA) -> None:
    tls_server.routes["/md.xml"] = Reply(body=make_metadata())
    dns = FakeDNS({"metadata.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    policy = FetchPolicy(allowed_hosts=("metadata.test", "other.test"), allow_private=True, total_timeout=3)
    f = refused(tls_server.url("/md.xml", "metadata.test"), policy, resolver=dns)
    assert f.code == "fetch_tls_failed"
    f = refused(tls_server.url("/md.xml", "other.test"), replace(policy, ca_file=ca.ca_file), resolver=dns)
    assert f.code == "fetch_tls_failed"
    assert tls_server.seen == []


def test_ipv6_loopback_when_allowed() -> None:
    try:
        srv = MetaServer(ipv6=True)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with srv:
        body = make_metadata()
        srv.routes["/md.xml"] = Reply(body=body)
        assert fetch_metadata(srv.url("/md.xml"), lab(), now=NOW).body == body
        assert srv.seen[0].host == f"[::1]:{srv.port}"


# --- timeouts and size ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=b"<x/>", delay=5),  # nothing at all for 5 s
        Reply(body=b"<x/>" * 100, drip=0.05),  # a byte every 50 ms: each read is quick, the whole is not
        Reply(body=b"<x/>", header_drip=0.1, headers={f"X-{i}": "y" for i in range(60)}),  # trickled headers
    ],
    ids=["silent", "trickled-body", "trickled-headers"],
)
def test_slow_answers_hit_the_total_timeout(server: MetaServer, reply: Reply) -> None:
    """The fetch gives up at its deadline while the server is still sending: no clock is read here, the server
    says it never finished."""
    server.routes["/slow"] = reply
    f = refused(server.url("/slow"), lab(total_timeout=0.5, connect_timeout=0.5))
    assert f.code == "fetch_timeout"
    assert not server.finished("/slow")


def test_dns_that_hangs_hits_the_total_timeout() -> None:
    dns = FakeDNS({}, hang=True)
    try:
        f = refused("http://metadata.test/md.xml", lab(total_timeout=0.3), resolver=dns)
        assert f.code == "fetch_timeout" and "resolving" in (f.actual or "")
        assert dns.calls == ["metadata.test"] and dns.answered == []  # gave up while the resolver still hung
    finally:
        dns.release.set()


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_huge_answers_are_capped(server: MetaServer, declared: bool) -> None:
    server.routes["/huge"] = Reply(body=b"<x>" + b"A" * (4 * 1024 * 1024) + b"</x>", content_length=declared)
    f = refused(server.url("/huge"), lab(max_bytes=256 * 1024))
    assert f.code == "fetch_too_large"
    assert ("not downloaded" if declared else "download stopped") in (f.actual or "")


def test_a_compressed_answer_is_capped_after_decompression(server: MetaServer) -> None:
    """The cap counts what the body becomes, so a small gzip bomb cannot blow past it."""
    bomb = gzip.compress(b"<x>" + b" " * (16 * 1024 * 1024) + b"</x>")
    assert len(bomb) < 64 * 1024
    server.routes["/bomb"] = Reply(body=bomb, headers={"Content-Encoding": "gzip"})
    assert refused(server.url("/bomb"), lab(max_bytes=256 * 1024)).code == "fetch_too_large"


def test_the_default_cap_allows_a_real_metadata_size(server: MetaServer) -> None:
    body = (CORPUS / "entra" / "aad_common_federationmetadata.xml").read_bytes()
    server.routes["/md.xml"] = Reply(body=body, content_length=False)
    assert fetch_metadata(server.url("/md.xml"), lab(), now=NOW).body == body


# --- redirects ------------------------------------------------------------------------------------------


def test_redirect_chain_within_the_limit_is_followed(server: MetaServer) -> None:
    server.routes["/r1"] = Reply(302, headers={"Location": "/r2"}, content_type=None)
    server.routes["/r2"] = Reply(301, headers={"Location": server.url("/r3")}, content_type=None)
    server.routes["/r3"] = Reply(307, headers={"Location": "md.xml?appid=1"}, content_type=None)
    server.routes["/md.xml?appid=1"] = Reply(body=make_metadata())
    got = fetch_metadata(server.url("/r1"), lab(), now=NOW)
    assert got.url == server.url("/md.xml?appid=1")
    assert server.paths() == ["/r1", "/r2", "/r3", "/md.xml?appid=1"]


def test_too_many_redirects(server: MetaServer) -> None:
    for i in range(5):
        server.routes[f"/r{i}"] = Reply(302, headers={"Location": f"/r{i + 1}"}, content_type=None)
    f = refused(server.url("/r0"), lab(max_redirects=3))
    assert f.code == "fetch_too_many_redirects"
    assert server.paths() == ["/r0", "/r1", "/r2", "/r3"]


def test_redirect_loop_is_bounded(server: MetaServer) -> None:
    server.routes["/loop"] = Reply(302, headers={"Location": "/loop"}, content_type=None)
    assert refused(server.url("/loop"), lab()).code == "fetch_too_many_redirects"


def test_redirect_to_a_disallowed_host_is_not_followed(server: MetaServer) -> None:
    server.routes["/r"] = Reply(302, headers={"Location": "https://evil.example/steal"}, content_type=None)
    dns = FakeDNS({"metadata.test": ["127.0.0.1"], "evil.example": ["127.0.0.1"]})
    f = refused(server.url("/r", "metadata.test"), lab(), resolver=dns)
    assert f.code == "fetch_redirect_refused" and "evil.example" in f.title
    assert dns.calls == ["metadata.test"]  # the disallowed host was not even resolved
    assert server.paths() == ["/r"]


def test_redirect_without_location(server: MetaServer) -> None:
    server.routes["/r"] = Reply(302, content_type=None)
    assert refused(server.url("/r"), lab()).code == "fetch_http_error"


def test_https_to_http_downgrade_is_refused(tls_server: MetaServer, ca: LocalCA) -> None:
    target = f"http://metadata.test:{tls_server.port}/md.xml"
    tls_server.routes["/r"] = Reply(302, headers={"Location": target}, content_type=None)
    policy = FetchPolicy(allowed_hosts=("metadata.test",), allow_private=True, ca_file=ca.ca_file)
    f = refused(tls_server.url("/r", "metadata.test"), policy, resolver=FakeDNS({"metadata.test": ["127.0.0.1"]}))
    assert f.code == "fetch_redirect_refused" and "http://" in f.title


# --- answers that are not metadata ----------------------------------------------------------------------

LOGIN_PAGE = b"<!DOCTYPE html>\n<html><head><title>Sign in to your account</title></head><body>" + SECRET + b"</body>"


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (Reply(body=LOGIN_PAGE, content_type="text/html; charset=utf-8"), "fetch_html_page"),
        (Reply(body=b"\xef\xbb\xbf\n  " + LOGIN_PAGE, content_type="application/xml"), "fetch_html_page"),
        (
            Reply(body=b"<?xml version='1.0'?><!-- x --><html>" + SECRET + b"</html>", content_type=None),
            "fetch_html_page",
        ),
        (Reply(body=b'{"issuer": "' + SECRET + b'"}', content_type="application/json"), "fetch_not_xml"),
        (Reply(body=SECRET, content_type=None), "fetch_not_xml"),
        (Reply(body=b"\xef\xbb\xbf \r\n", content_type="application/xml"), "fetch_not_xml"),
        (Reply(404, body=SECRET, content_type="text/html"), "fetch_http_error"),
        (Reply(400, body=SECRET, content_type="application/json"), "fetch_http_error"),
        (Reply(503, body=SECRET, content_type="text/plain"), "fetch_http_error"),
    ],
    ids=["html", "html-as-xml", "xhtml-no-type", "json", "no-type-not-xml", "empty", "404", "400", "503"],
)
def test_answers_that_are_not_metadata(server: MetaServer, reply: Reply, code: str) -> None:
    server.routes["/md.xml"] = reply
    f = refused(server.url("/md.xml"), lab())
    assert f.code == code
    no_body_in(f)
    if code == "fetch_http_error":
        assert str(reply.status) in f.title


def test_xml_without_a_content_type_is_accepted(server: MetaServer) -> None:
    body = make_metadata()
    server.routes["/md.xml"] = Reply(body=body, content_type=None)
    assert fetch_metadata(server.url("/md.xml"), lab(), now=NOW).body == body


def test_connection_refused() -> None:
    f = refused(f"http://127.0.0.1:{free_port()}/md.xml", lab())
    assert f.code == "fetch_connect_failed"


@pytest.mark.parametrize("answer", [None, []], ids=["nxdomain", "no-address"])
def test_dns_failure(answer: list[str] | None) -> None:
    dns = FakeDNS({} if answer is None else {"metadata.test": answer})
    f = refused("https://metadata.test/md.xml", lab(), resolver=dns)
    assert f.code == "fetch_dns_failed"


# --- SSRF -----------------------------------------------------------------------------------------------


@pytest.fixture
def no_connections(connections: list[tuple[str, int]]) -> Iterator[None]:
    yield
    assert connections == [], "a refused fetch opened a connection"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "https://127.0.0.1:{port}/",
        "http://[::1]:{port}/",
        "https://[::1]/",
        "http://169.254.169.254/latest/meta-data",
        "https://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "https://10.0.0.1/federationmetadata/2007-06/federationmetadata.xml",
        "https://localhost:{port}/",
        "https://login.microsoftonline.com@127.0.0.1:{port}/",
        "https://login.microsoftonline.com:{port}\\@127.0.0.1/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/",
    ],
)
def test_ssrf_targets_are_refused_under_the_default_policy(server: MetaServer, no_connections: None, url: str) -> None:
    dns = FakeDNS({"localhost": ["127.0.0.1"]})
    f = refused(url.format(port=server.port), FetchPolicy(), resolver=dns)
    assert f.code in ("fetch_scheme_refused", "fetch_host_not_allowed", "fetch_bad_url", "fetch_address_refused")
    assert server.seen == [] and dns.calls == []


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "instance-metadata"),
        ("fd00:ec2::254", "instance-metadata"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fe80::1", "link-local"),
        ("169.254.1.1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "not globally routable"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "instance-metadata"),
        ("64:ff9b::a00:1", "private"),
        ("2002:7f00:1::", "loopback"),
    ],
)
def test_internal_addresses_are_refused_literal_or_resolved(
    server: MetaServer, no_connections: None, host: str, why: str
) -> None:
    """The address rule on its own: hosts allowed, http allowed, only private addresses not allowed."""
    literal = f"[{host}]" if ":" in host else host
    policy = FetchPolicy(allowed_hosts=(host, "metadata.test"), allow_http=True)
    f = refused(f"http://{literal}:{server.port}/md.xml", policy)
    assert f.code == "fetch_address_refused" and why in (f.actual or ""), f
    dns = FakeDNS({"metadata.test": [host]})
    f = refused(f"http://metadata.test:{server.port}/md.xml", policy, resolver=dns)
    assert f.code == "fetch_address_refused" and why in (f.actual or ""), f
    assert dns.calls == ["metadata.test"] and server.seen == []


def test_entra_host_resolving_to_loopback_is_refused_under_the_default_policy(
    server: MetaServer, no_connections: None
) -> None:
    dns = FakeDNS({"login.microsoftonline.com": ["127.0.0.1"]})
    f = refused(ENTRA_APP_URL, FetchPolicy(), resolver=dns)
    assert f.code == "fetch_address_refused" and "127.0.0.1" in (f.actual or "")
    assert dns.calls == ["login.microsoftonline.com"]


def test_one_internal_address_among_public_ones_refuses_the_host(no_connections: None) -> None:
    dns = FakeDNS({"login.microsoftonline.com": ["20.190.151.68", "10.1.2.3"]})
    assert refused(ENTRA_APP_URL, FetchPolicy(), resolver=dns).code == "fetch_address_refused"


def test_instance_metadata_stays_refused_even_when_private_is_allowed(no_connections: None) -> None:
    policy = lab(allowed_hosts=("169.254.169.254", "metadata.test"))
    assert refused("http://169.254.169.254/latest/meta-data", policy).code == "fetch_address_refused"
    dns = FakeDNS({"metadata.test": ["::ffff:169.254.169.254"]})
    assert refused("http://metadata.test/", policy, resolver=dns).code == "fetch_address_refused"


@pytest.mark.parametrize(
    ("final", "reason"),
    [
        ("https://inside.test:{port}/md.xml", "10.0.0.1"),  # allowed host, internal address
        ("https://metadata.test:{port}@127.0.0.1/md.xml", "user name"),
        ("http://169.254.169.254/latest/meta-data", "http://"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("https://[::1]:{port}/md.xml", "::1"),
    ],
)
def test_redirect_chain_ending_inside_is_refused(
    tls_server: MetaServer,
    ca: LocalCA,
    connections: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    final: str,
    reason: str,
) -> None:
    """Default policy (https, no private addresses), except that the test server's own address 127.0.0.1 is
    treated as public, so that the chain can start; every hop is checked again."""
    real = fetch.address_refusal
    monkeypatch.setattr(fetch, "address_refusal", lambda ip: None if str(ip) == "127.0.0.1" else real(ip))
    tls_server.routes["/r1"] = Reply(302, headers={"Location": "/r2"}, content_type=None)
    tls_server.routes["/r2"] = Reply(302, headers={"Location": final.format(port=tls_server.port)}, content_type=None)
    dns = FakeDNS({"metadata.test": ["127.0.0.1"], "inside.test": ["10.0.0.1"]})
    policy = FetchPolicy(allowed_hosts=("metadata.test", "inside.test", "169.254.169.254"), ca_file=ca.ca_file)
    f = refused(tls_server.url("/r1", "metadata.test"), policy, resolver=dns)
    assert f.code == "fetch_redirect_refused" and f.title.startswith("Redirect 2 refused")
    assert reason in (f.title + " " + (f.actual or ""))
    assert tls_server.paths() == ["/r1", "/r2"]
    assert set(connections) == {("127.0.0.1", tls_server.port)}


def test_plain_refusals_under_the_default_policy(no_connections: None) -> None:
    dns = FakeDNS()
    policy = FetchPolicy()
    assert refused("https://evil.example/md.xml", policy, resolver=dns).code == "fetch_host_not_allowed"
    assert refused(f"http://login.microsoftonline.com/{TENANT}/x", policy).code == "fetch_scheme_refused"
    assert refused("login.microsoftonline.com/x", policy).code == "fetch_scheme_refused"
    assert refused("https://user:pw@login.microsoftonline.com/x", policy).code == "fetch_bad_url"
    assert refused("https://login.microsoftonline.com:99999/x", policy).code == "fetch_bad_url"
    assert refused("https://login.microsoft online.com/x", policy).code == "fetch_bad_url"
    assert refused("https:///x", policy).code == "fetch_bad_url"
    assert dns.calls == []


# --- cache and offline ----------------------------------------------------------------------------------


def test_cache_ttl_and_offline(server: MetaServer) -> None:
    server.routes["/md.xml"] = Reply(body=make_metadata())
    url = server.url("/md.xml")
    cache = MemoryCache()
    policy = lab(cache_ttl=3600)
    first = fetch_metadata(url, policy, now=NOW, cache=cache)
    assert not first.from_cache and cache_note(first) is None
    again = fetch_metadata(url, policy, now=NOW + timedelta(minutes=10), cache=cache)
    assert again.from_cache and again.age_seconds == 600 and again.fetched_at == NOW
    note = cache_note(again)
    assert note is not None and note.code == "metadata_cached" and "10 minutes" in note.title
    assert server.paths() == ["/md.xml"]
    stale = NOW + timedelta(hours=2)
    offline = fetch_metadata(url, replace(policy, offline=True), now=stale, cache=cache)
    assert offline.from_cache and offline.age_seconds == 7200
    assert server.paths() == ["/md.xml"]
    refreshed = fetch_metadata(url, policy, now=stale, cache=cache)
    assert not refreshed.from_cache and refreshed.fetched_at == stale
    assert server.paths() == ["/md.xml", "/md.xml"]


def test_offline_without_a_copy(no_connections: None) -> None:
    f = refused(ENTRA_APP_URL, replace(FetchPolicy(), offline=True), cache=MemoryCache())
    assert f.code == "fetch_offline_miss"


def test_the_policy_is_checked_before_the_cache() -> None:
    cache = MemoryCache()
    cache.put("https://evil.example/md.xml", Fetched("https://evil.example/md.xml", b"<x/>", NOW, False, 0))
    f = refused("https://evil.example/md.xml", replace(FetchPolicy(), offline=True), cache=cache)
    assert f.code == "fetch_host_not_allowed"


def test_memory_cache_is_bounded() -> None:
    cache = MemoryCache(max_entries=2, max_total_bytes=10)
    for i, size in enumerate([4, 4, 4]):
        cache.put(str(i), Fetched(str(i), b"x" * size, NOW, False, 0))
    assert len(cache) == 2 and cache.get("0") is None
    cache.put("big", Fetched("big", b"x" * 8, NOW, False, 0))
    assert cache.get("big") is not None and len(cache) == 1
    cache.put("huge", Fetched("huge", b"x" * 11, NOW, False, 0))
    assert cache.get("huge") is None


# --- rollover and Entra hints ---------------------------------------------------------------------------


def test_rollover_states() -> None:
    k = keys()
    certs = [k["expired"].cert, k["old"].cert, k["active"].cert, k["new"].cert]
    assert [s for _, s in rollover(certs, NOW)] == ["expired", "old", "active", "new"]
    assert [c for c, _ in rollover(certs, NOW)] == certs
    assert [s for _, s in rollover([k["new"].cert, k["expired"].cert], NOW)] == ["not yet valid", "expired"]
    assert rollover([], NOW) == []


@cache
def _cert(start: datetime, end: datetime) -> x509.Certificate:
    return make_keypair(not_before=start, days=(end - start).days).cert


@pytest.mark.parametrize(
    ("days", "severity", "notice"),
    [(3, Severity.WARNING, 7), (20, Severity.WARNING, 30), (45, Severity.INFO, 60), (90, None, None)],
)
def test_expiry_notices_at_entra_thresholds(days: int, severity: Severity | None, notice: int | None) -> None:
    cert = _cert(NOW - timedelta(days=300), NOW + timedelta(days=days, hours=1))
    info = metadata.load(make_metadata([cert]), "md", Limits())
    found = [f for f in classify_metadata(info, ENTRA_APP_URL, now=NOW) if f.code == "cert_expiring"]
    if severity is None:
        assert found == []
    else:
        assert [f.severity for f in found] == [severity]
        assert f"{notice}-day" in found[0].title and f"in {days} days" in found[0].title


def test_expired_and_future_only_certificates() -> None:
    info = metadata.load(make_metadata([keys()["expired"].cert, keys()["new"].cert]), "md", Limits())
    found = {f.code: f for f in classify_metadata(info, ENTRA_APP_URL, now=NOW)}
    assert found["metadata_cert_expired"].severity is Severity.WARNING
    assert found["cert_rollover"].severity is Severity.WARNING
    assert "No signing certificate" in found["cert_rollover"].title


def test_single_active_certificate_gives_no_rollover_noise() -> None:
    info = metadata.load(make_metadata([keys()["active"].cert]), "md", Limits())
    assert classify_metadata(info, ENTRA_APP_URL, now=NOW) == []


@pytest.mark.parametrize(
    ("url", "code"),
    [
        (ENTRA_APP_URL, None),
        (entra_metadata_url(TENANT, None), "metadata_tenant_wide"),
        (entra_metadata_url("contoso.onmicrosoft.com", None, "usgov"), "metadata_tenant_wide"),
        (entra_metadata_url("common", None), "metadata_common_endpoint"),
        (entra_metadata_url("organizations", APP_ID), "metadata_common_endpoint"),
        (
            "https://login.microsoftonline.com/FederationMetadata/2007-06/FederationMetadata.xml",
            "metadata_common_endpoint",
        ),
        ("https://adfs.contoso.example/FederationMetadata/2007-06/FederationMetadata.xml", None),
        (None, None),
    ],
)
def test_tenant_and_common_metadata_urls(url: str | None, code: str | None) -> None:
    info = metadata.load(make_metadata([keys()["active"].cert]), "md", Limits())
    codes = [f.code for f in classify_metadata(info, url, now=NOW)]
    assert codes == ([code] if code else [])


def test_valid_until() -> None:
    def with_valid_until(value: str) -> metadata.IdpInfo:
        root = etree.fromstring(make_metadata([keys()["active"].cert]))
        root.set("validUntil", value)
        return metadata.load(etree.tostring(root), "md", Limits())

    past = classify_metadata(with_valid_until("2026-02-01T00:00:00Z"), ENTRA_APP_URL, now=NOW)
    assert [f.code for f in past] == ["metadata_expired"] and "2026-02-01" in past[0].title
    assert classify_metadata(with_valid_until("2026-04-01T00:00:00.1234567Z"), ENTRA_APP_URL, now=NOW) == []
    assert [f.code for f in classify_metadata(with_valid_until("soon"), None, now=NOW)] == ["bad_time_format"]


# --- the shared corpus ----------------------------------------------------------------------------------


def corpus_doc(name: str) -> tuple[bytes, etree._Element]:
    data = (CORPUS / "entra" / name).read_bytes()
    return data, parse(data, Limits())


def test_aad_common_metadata_three_certs_and_signature(corpus: Path) -> None:
    data, root = corpus_doc("aad_common_federationmetadata.xml")
    info = metadata.read(root, "aad common")
    assert len(info.signing_certs) == 3
    anchor = Anchor(load_certs((corpus / "entra" / "aad_signing_cert_2017.pem").read_bytes())[0], "2017 cert")
    status, key, found = verify_metadata_signature(root, data, [anchor])
    assert status == "valid" and key is not None
    assert key.sha256 == anchor.cert.fingerprint(hashes.SHA256()).hex().upper()
    assert [f.code for f in found] == ["metadata_signature_valid"] and "2017 cert" in found[0].title
    # Without an anchor: verified with one of its own listed certificates, which proves integrity only.
    status, key, found = verify_metadata_signature(root, data, [])
    assert status == "self-signed" and [f.code for f in found] == ["metadata_self_signed"]
    assert "allowed Entra host" in (found[0].actual or "")
    # The tenant-independent document says so, and its 2019 certificates are long expired.
    codes = [f.code for f in classify_metadata(info, None, now=NOW)]
    assert "metadata_common_endpoint" in codes and codes.count("metadata_cert_expired") == 3


def test_microsoft_online_metadata_is_not_idp_metadata(corpus: Path) -> None:
    data, root = corpus_doc("microsoftonline_federation_metadata.xml")
    info = metadata.read(root, "microsoftonline")
    found = {f.code: f for f in classify_metadata(info, None, now=NOW)}
    assert "urn:federation:MicrosoftOnline" in found["not_idp_metadata"].title
    assert "appid" in (found["not_idp_metadata"].fix or "")
    status, _, sig = verify_metadata_signature(root, data, [])
    assert status == "self-signed" and "SHA-1" in (sig[0].actual or "") and "SPSSODescriptor" in (sig[0].actual or "")


def test_tampered_corpus_metadata_is_invalid(corpus: Path) -> None:
    data, _ = corpus_doc("aad_common_federationmetadata.xml")
    changed = data.replace(b"/saml2", b"/saml3", 1)
    assert changed != data
    status, key, found = verify_metadata_signature(parse(changed, Limits()), changed, [])
    assert status == "invalid" and key is None
    assert found[0].code == "metadata_signature_invalid" and "changed after" in found[0].title


# --- signatures on generated metadata -------------------------------------------------------------------


def signed_metadata(signer: KeyPair, listed: list[x509.Certificate]) -> bytes:
    return etree.tostring(sign(etree.fromstring(make_metadata(listed)), "response", keypair=signer))


def test_signed_metadata_with_anchor_and_without() -> None:
    k = keys()["active"]
    data = signed_metadata(k, [k.cert])
    root = parse(data, Limits())
    status, key, found = verify_metadata_signature(root, data, [Anchor(k.cert, "pasted cert")])
    assert status == "valid" and key is not None and key.source == "pasted cert"
    assert found[0].code == "metadata_signature_valid"
    status, key, found = verify_metadata_signature(root, data, [])
    assert status == "self-signed" and found[0].code == "metadata_self_signed"
    assert key is not None and "own signing certificate #1" in key.source


def test_metadata_signed_by_an_unlisted_key() -> None:
    data = signed_metadata(keys()["old"], [keys()["active"].cert])
    status, _, found = verify_metadata_signature(parse(data, Limits()), data, [Anchor(keys()["new"].cert, "x")])
    assert status == "invalid" and "none of the 2 certificates" in found[0].title
    assert found[0].severity is Severity.ERROR


def test_unsigned_metadata() -> None:
    data = make_metadata()
    status, key, found = verify_metadata_signature(parse(data, Limits()), data, [])
    assert (status, key, [f.code for f in found]) == ("unsigned", None, ["metadata_unsigned"])


def test_metadata_signature_over_another_element_is_invalid() -> None:
    """Wrapping: the signature's Reference points at a copy, not at the document element that is read."""
    k = keys()["active"]
    signed = etree.fromstring(signed_metadata(k, [k.cert]))
    ref = signed.find(".//{http://www.w3.org/2000/09/xmldsig#}Reference")
    assert ref is not None
    ref.set("URI", "#_other")
    data = etree.tostring(signed)
    status, _, found = verify_metadata_signature(parse(data, Limits()), data, [Anchor(k.cert, "a")])
    assert status == "invalid" and "does not point at the document element" in (found[0].actual or "")


def test_signed_but_nothing_to_check_with() -> None:
    k = keys()["active"]
    data = signed_metadata(k, [])
    status, _, found = verify_metadata_signature(parse(data, Limits()), data, [])
    assert status == "invalid" and found[0].severity is Severity.WARNING


def test_metadata_signed_with_an_rsa_key_under_2048_bits_is_reported() -> None:
    weak = make_keypair(cn="weak metadata signer", bits=1024)
    data = signed_metadata(weak, [weak.cert])
    status, _key, found = verify_metadata_signature(parse(data, Limits()), data, [Anchor(weak.cert, "pasted cert")])
    assert status == "valid" and [f.code for f in found] == ["metadata_signature_valid", "weak_signing_key"]
    assert "RSA 1024 bits (pasted cert)" in (found[1].actual or "")
