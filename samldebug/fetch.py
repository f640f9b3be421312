"""Metadata from a URL, fetched safely; and what Entra metadata says about trust (issue 4).

This server fetches URLs on a user's behalf, so every fetch is fenced:

- the scheme must be https (http only if the operator allows it) and the host must be on the operator's
  allow-list (default: the Entra login hosts);
- the host name is resolved once, here, and every address it resolves to is checked: loopback, link-local
  (the cloud metadata services), private, shared, multicast, reserved and unspecified addresses are refused,
  also when hidden inside an IPv4-mapped, NAT64, 6to4 or Teredo IPv6 address. The connection then goes to that
  exact address while the Host header, TLS SNI and certificate check keep the name, so a second DNS answer
  (DNS rebinding) cannot move the fetch elsewhere;
- redirects are never followed by the HTTP client: each hop is re-checked like the first URL;
- a connect timeout, a total deadline over the whole fetch (DNS, redirects and a slow trickle included), a
  streamed size cap, and status / HTML page / content-type checks.

Findings about a fetch never quote the response body: only status, sizes, content types and URLs.

The rest of the module reads a metadata document already parsed by `samldebug.xmlsafe.parse`: Entra-specific
hints (`classify_metadata`), the certificate rollover picture (`rollover`) and the document's own signature
(`verify_metadata_signature`). No function here reads the clock: callers pass `now`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urljoin, urlsplit

import cryptography.exceptions
import urllib3
from cryptography import x509
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier  # type: ignore[attr-defined]
from signxml.exceptions import InvalidDigest, InvalidInput, InvalidSignature
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from . import metadata as md
from .catalog import finding
from .certs import Anchor, CertError, iso, load_certs
from .certs import info as cert_info
from .checks import parse_time
from .decode import strip_bom
from .metadata import IdpInfo
from .model import AnalysisStop, CertInfo, Finding, Severity
from .saml import DS, MD
from .signature import ALLOWED_TRANSFORMS, POLICY
from .xmlsafe import make_parser

MiB = 1024 * 1024

# Entra login hosts by cloud (issue 4; shared/reference/entra-reference.md, "National clouds").
CLOUDS = {
    "global": "login.microsoftonline.com",
    "usgov": "login.microsoftonline.us",
    "china": "login.partner.microsoftonline.cn",
}
# Hosts recognised as Entra for the URL hints (login.windows.net and login.chinacloudapi.cn are older aliases
# still found in SP configurations); fetching is governed by FetchPolicy.allowed_hosts alone.
ENTRA_HOSTS = frozenset(CLOUDS.values()) | {"login.windows.net", "login.chinacloudapi.cn"}
TENANT_INDEPENDENT = ("common", "organizations", "consumers")
MICROSOFT_ONLINE = "urn:federation:MicrosoftOnline"
EXPIRY_NOTICE_DAYS = (7, 30, 60)  # Entra e-mails its expiry notices at 60, 30 and 7 days

USER_AGENT = "samldebug-metadata-fetch/0.1"
ACCEPT = "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
XML_TYPES = frozenset({"application/samlmetadata+xml", "application/xml", "text/xml"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# A DNS name of two labels or more whose last label starts with a letter (so an IPv4 address is not one).
_DNS_NAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_HTML = re.compile(
    rb"^\s*(?:<\?xml[^>]{0,200}>\s*)?(?:<!--.{0,2000}?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S
)


# --- policy and results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchPolicy:
    """What a fetch may do. Built from the operator's configuration; tests loosen it explicitly."""

    allowed_hosts: tuple[str, ...] = tuple(CLOUDS.values())  # host names (or IP literals), port not restricted
    allow_http: bool = False  # HTTPS only by default
    allow_private: bool = False  # loopback/link-local/private/… addresses refused unless True (tests, labs)
    connect_timeout: float = 3.0  # seconds, per connection
    total_timeout: float = 8.0  # seconds, the whole fetch: DNS, every redirect hop, the whole body
    max_bytes: int = 2 * MiB
    max_redirects: int = 3  # each hop re-checked against allowed_hosts and the address rules
    cache_ttl: int = 3600  # seconds a cached copy is served without fetching again
    offline: bool = False  # serve only from the cache, whatever the copy's age (Fetched says it)
    ca_file: str | None = None  # CA bundle for TLS verification; None: the system's default bundle


@dataclass(frozen=True)
class Fetched:
    url: str  # final URL (after redirects)
    body: bytes  # exactly as received (BOM and CRLF kept; metadata.load copes)
    fetched_at: datetime  # when it was fetched (the `now` of that fetch)
    from_cache: bool
    age_seconds: int  # 0 when fresh


class MetadataCache(Protocol):
    """Where fetched documents are kept. Keys are URLs as given. Freshness is decided by `fetch_metadata`
    (from `now` and the policy's TTL), so an implementation only stores: keeping stale entries lets offline
    mode serve them."""

    def get(self, key: str) -> Fetched | None: ...

    def put(self, key: str, fetched: Fetched) -> None: ...


class MemoryCache:
    """An in-process `MetadataCache` (CLI, tests): bounded by entries and bytes, least recently used out first,
    thread-safe. It keeps entries past the TTL on purpose (see `MetadataCache`)."""

    def __init__(self, max_entries: int = 64, max_total_bytes: int = 32 * MiB) -> None:
        self._data: OrderedDict[str, Fetched] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.max_total_bytes = max_total_bytes

    def get(self, key: str) -> Fetched | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
            return hit

    def put(self, key: str, fetched: Fetched) -> None:
        if len(fetched.body) > self.max_total_bytes:
            return
        with self._lock:
            self._data[key] = fetched
            self._data.move_to_end(key)
            total = sum(len(f.body) for f in self._data.values())
            while len(self._data) > self.max_entries or total > self.max_total_bytes:
                _, dropped = self._data.popitem(last=False)
                total -= len(dropped.body)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


# socket.getaddrinfo's shape, called as resolver(host, port, 0, socket.SOCK_STREAM).
Resolver = Callable[[str, int, int, int], Sequence[tuple[Any, ...]]]


# --- Entra URLs -----------------------------------------------------------------------------------------


def _invalid_id(title: str, expected: str, actual: str) -> AnalysisStop:
    return AnalysisStop(finding("entra_id_invalid", title, expected=expected, actual=actual))


def entra_metadata_url(tenant: str, app_id: str | None, cloud: str = "global") -> str:
    """The App Federation Metadata Url (tenant-wide metadata when `app_id` is None or empty).

    `tenant`: a GUID or a verified domain; "common" / "organizations" / "consumers" are accepted here and
    reported by `classify_metadata`. Raises AnalysisStop(entra_id_invalid) for anything else.
    """
    host = CLOUDS.get(cloud)
    if host is None:
        raise _invalid_id("Unknown Entra cloud", " | ".join(CLOUDS), _show(cloud, 40))
    t = tenant.strip().lower()
    if not (_GUID.match(t) or _DNS_NAME.match(t) or t in TENANT_INDEPENDENT):
        raise _invalid_id(
            "The tenant is neither a tenant ID (GUID) nor a domain name",
            "a Directory (tenant) ID such as 9188040d-6c67-4c5b-b112-36a304b66dad, or a verified domain",
            _show(tenant, 80),
        )
    url = f"https://{host}/{t}/federationmetadata/2007-06/federationmetadata.xml"
    if app_id and app_id.strip():
        a = app_id.strip().lower()
        if not _GUID.match(a):
            raise _invalid_id(
                "The app ID is not a GUID",
                "an Application (client) ID such as 00000000-0000-0000-0000-000000000000",
                _show(app_id, 80),
            )
        url += f"?appid={a}"
    return url


# --- URL and address rules ------------------------------------------------------------------------------


def _show(text: str, limit: int = 200) -> str:
    """A URL or value fit for a finding: control characters replaced, length capped."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # lower case, no trailing dot, IPv6 without brackets
    port: int
    path: str  # path and query as sent (never a fragment)
    ip_literal: bool

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == (443 if self.scheme == "https" else 80) else f"{name}:{self.port}"


def _refused(hop: int, code: str, title: str, *, expected: str, actual: str, where: str) -> AnalysisStop:
    """A refusal of the URL itself (hop 0) or of a redirect target (hop ≥ 1, reported as the redirect)."""
    if hop == 0:
        return AnalysisStop(finding(code, title, expected=expected, actual=actual, where=where))
    return AnalysisStop(
        finding(
            "fetch_redirect_refused",
            f"Redirect {hop} refused: {title[0].lower()}{title[1:]}",
            expected=expected,
            actual=actual,
            where=where,
        )
    )


def _check_url(url: str, policy: FetchPolicy, hop: int, where: str) -> _Target:
    shown = _show(url)
    bad = "an https:// URL such as https://login.microsoftonline.com/<tenant>/federationmetadata/…"
    if _UNSAFE_URL_CHARS.search(url.strip()):
        raise _refused(
            hop,
            "fetch_bad_url",
            "The URL contains spaces, control characters or backslashes",
            expected=bad,
            actual=shown,
            where=where,
        )
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as e:
        raise _refused(
            hop, "fetch_bad_url", "The URL does not parse", expected=bad, actual=f"{shown}: {e}", where=where
        ) from None
    scheme = parts.scheme.lower()
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if scheme not in schemes:
        raise _refused(
            hop,
            "fetch_scheme_refused",
            f"The URL uses {scheme + '://' if scheme else 'no scheme'}; only {' or '.join(schemes)} is fetched",
            expected=" or ".join(f"{s}://…" for s in schemes),
            actual=shown,
            where=where,
        )
    if parts.username is not None or parts.password is not None:
        raise _refused(
            hop,
            "fetch_bad_url",
            "The URL carries a user name or password",
            expected=bad,
            actual=_show(f"{scheme}://…@{parts.hostname or ''}"),
            where=where,
        )
    host = (parts.hostname or "").rstrip(".")
    ip_literal = True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        ip_literal = False
        if not _HOST_NAME.match(host):
            raise _refused(
                hop, "fetch_bad_url", "The URL has no usable host name", expected=bad, actual=shown, where=where
            ) from None
    allowed = {h.strip().lower().rstrip(".").strip("[]") for h in policy.allowed_hosts}
    if host not in allowed:
        raise _refused(
            hop,
            "fetch_host_not_allowed",
            f"This server does not fetch metadata from {host}",
            expected="one of the allowed hosts: " + ", ".join(policy.allowed_hosts),
            actual=shown,
            where=where,
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if scheme == "https" else 80
    return _Target(url.strip(), scheme, host, port if port is not None else default_port, path, ip_literal)


_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Cloud instance-metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6, AWS ECS, Alibaba). Refused even when the
# operator allows private addresses: no IdP lives there, and they hand out credentials.
_METADATA_SERVICES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_refusal(ip: _IPAddress) -> str | None:
    """Why a fetch may not connect to `ip` (None: a public address). Used for every resolved address of every
    hop unless the policy allows private addresses."""
    if ip in _METADATA_SERVICES:
        return "the cloud instance-metadata service"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            why = address_refusal(inner)
            if why is not None:
                return f"{why}, as {inner} inside an IPv6 address"
        if ip.is_site_local:
            return "a site-local address"
    for test, why in (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "an address that is not globally routable"),
    ):
        if test:
            return why
    return None


def _always_refused(ip: _IPAddress) -> str | None:
    """What stays refused when the operator allows private addresses."""
    if ip in _METADATA_SERVICES:
        return "the cloud instance-metadata service"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and inner in _METADATA_SERVICES:
            return "the cloud instance-metadata service"
    return None


# --- the fetch ------------------------------------------------------------------------------------------


class _Watchdog:
    """Ends a fetch at its deadline whatever it is waiting for. Socket timeouts bound each wait, not the sum:
    a server trickling header lines or body bytes could otherwise hold a fetch for ever. At the deadline every
    socket of the fetch is shut down, which wakes any blocked read; the fetch then reports a timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self.fired = False

    def register(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            fired = self.fired
        if fired:
            self._shut(sock)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            socks = list(self._socks)
        for sock in socks:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


# urllib3 creates its sockets in HTTPConnection._new_conn (stable from 1.x to 2.x); these subclasses hand each
# new socket to the fetch's watchdog. The pools pass `watchdog` through their connection keyword arguments.
class _Guarded:
    def __init__(self, *args: Any, watchdog: _Watchdog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchdog = watchdog

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        self._watchdog.register(sock)
        return sock


class _GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


@dataclass
class _Run:
    """One fetch in progress: its policy, deadline and watchdog, and the URL to name in findings."""

    policy: FetchPolicy
    resolver: Resolver
    deadline: float
    watchdog: _Watchdog
    where: str

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def timed_out(self) -> bool:
        return self.watchdog.fired or self.remaining() <= 0

    def timeout(self, phase: str) -> AnalysisStop:
        return AnalysisStop(
            finding(
                "fetch_timeout",
                f"Fetching the metadata took longer than {self.policy.total_timeout:g} s ({phase})",
                expected=f"the whole fetch within {self.policy.total_timeout:g} s, redirects included",
                actual=f"stopped while {phase}",
                where=self.where,
            )
        )


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    location: str | None
    content_type: str
    body: bytes | None  # read only for a 200 (or 203) answer


def _lookup(run: _Run, target: _Target) -> list[str]:
    """Resolve the host once (in a helper thread, so the deadline also bounds a hanging resolver)."""
    found: list[Sequence[tuple[Any, ...]]] = []
    failed: list[str] = []

    def work() -> None:
        try:
            found.append(run.resolver(target.host, target.port, 0, socket.SOCK_STREAM))
        except (OSError, UnicodeError, ValueError) as e:
            failed.append(str(e) or type(e).__name__)

    worker = threading.Thread(target=work, name="samldebug-metadata-dns", daemon=True)
    worker.start()
    worker.join(max(run.remaining(), 0))
    if worker.is_alive():
        raise run.timeout(f"resolving {target.host}")
    addresses: list[str] = []
    for info in found[0] if found else ():
        sockaddr = info[4] if len(info) > 4 else None
        if isinstance(sockaddr, tuple) and sockaddr and isinstance(sockaddr[0], str) and sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    if not addresses:
        raise AnalysisStop(
            finding(
                "fetch_dns_failed",
                f"The host name {target.host} does not resolve",
                expected="an address for the host",
                actual=_show(failed[0], 120) if failed else "no address",
                where=run.where,
            )
        )
    return addresses


def _addresses(run: _Run, target: _Target, hop: int) -> list[str]:
    """The addresses to connect to, every one of them checked (a name answering with one internal address
    among public ones is refused as a whole: legitimate IdP hosts never do that)."""
    candidates = [target.host] if target.ip_literal else _lookup(run, target)
    for a in candidates:
        try:
            ip = ipaddress.ip_address(a.split("%", 1)[0])
        except ValueError:
            raise AnalysisStop(
                finding(
                    "fetch_dns_failed",
                    f"The host name {target.host} resolves to something that is not an IP address",
                    actual=_show(a, 80),
                    where=run.where,
                )
            ) from None
        why = _always_refused(ip) if run.policy.allow_private else address_refusal(ip)
        if why is not None:
            resolved = "is" if target.ip_literal else f"resolves to {ip}, which is"
            raise _refused(
                hop,
                "fetch_address_refused",
                f"{target.host} {resolved} {why}: refused",
                expected="a public address (internal addresses are refused: SSRF protection)",
                actual=f"{target.host} → {ip} ({why})",
                where=run.where,
            )
    return candidates


def _pool(run: _Run, target: _Target, ip: str, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    if target.scheme == "https":
        return _HTTPSPool(
            ip,
            target.port,
            timeout=timeout,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=run.policy.ca_file,
            # The connection goes to the pinned address; TLS still names and verifies the host.
            server_hostname=target.host,
            assert_hostname=target.host,
            watchdog=run.watchdog,
        )
    return _HTTPPool(ip, target.port, timeout=timeout, maxsize=1, retries=False, watchdog=run.watchdog)


def _network_failure(run: _Run, target: _Target, ip: str, e: Exception) -> AnalysisStop:
    if run.timed_out():
        return run.timeout(f"waiting for {target.host}")
    if isinstance(e, NewConnectionError):  # (a subclass of ConnectTimeoutError: test it first)
        code, title = "fetch_connect_failed", f"Could not connect to {target.host} ({ip}, port {target.port})"
    elif isinstance(e, ConnectTimeoutError):
        return AnalysisStop(
            finding(
                "fetch_timeout",
                f"No connection to {target.host} within {run.policy.connect_timeout:g} s",
                expected=f"a connection within {run.policy.connect_timeout:g} s",
                actual=f"{ip}, port {target.port}: no answer",
                where=run.where,
            )
        )
    elif isinstance(e, ReadTimeoutError):
        return run.timeout(f"waiting for {target.host}")
    elif isinstance(e, SSLError):
        code, title = "fetch_tls_failed", f"The TLS connection to {target.host} could not be verified"
    else:
        code, title = "fetch_connect_failed", f"The connection to {target.host} broke"
    return AnalysisStop(finding(code, title, actual=_show(f"{type(e).__name__}: {e}", 300), where=run.where))


def _read_body(run: _Run, resp: urllib3.BaseHTTPResponse, target: _Target) -> bytes:
    cap = run.policy.max_bytes
    declared = resp.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > cap:
        raise _too_large(run, f"Content-Length: {int(declared)} bytes (not downloaded)")
    chunks: list[bytes] = []
    size = 0
    while True:
        if run.timed_out():
            raise run.timeout(f"downloading from {target.host} ({size} bytes received)")
        chunk = resp.read1(_CHUNK)  # one socket read at most: the deadline is checked between reads
        if not chunk:
            break
        size += len(chunk)
        if size > cap:
            raise _too_large(run, f"more than {cap} bytes (download stopped)")
        chunks.append(chunk)
    if run.timed_out():  # the watchdog's shutdown looks like a normal end of stream: never trust a cut body
        raise run.timeout(f"downloading from {target.host} ({size} bytes received)")
    return b"".join(chunks)


def _too_large(run: _Run, actual: str) -> AnalysisStop:
    return AnalysisStop(
        finding(
            "fetch_too_large",
            f"The answer is larger than the {run.policy.max_bytes} byte limit",
            expected=f"at most {run.policy.max_bytes} bytes",
            actual=actual,
            where=run.where,
        )
    )


def _exchange(run: _Run, target: _Target, ip: str) -> _Answer:
    remaining = run.remaining()
    if remaining <= 0:
        raise run.timeout(f"connecting to {target.host}")
    timeout = urllib3.Timeout(connect=min(run.policy.connect_timeout, remaining), read=remaining)
    pool = _pool(run, target, ip, timeout)
    resp: urllib3.BaseHTTPResponse | None = None
    try:
        resp = pool.urlopen(
            "GET",
            target.path,
            headers={
                "Host": target.host_header,
                "User-Agent": USER_AGENT,
                "Accept": ACCEPT,
                "Accept-Encoding": "identity",
            },
            retries=False,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            release_conn=False,
            timeout=timeout,
        )
        content_type = resp.headers.get("Content-Type", "")
        body = _read_body(run, resp, target) if resp.status in (200, 203) else None
        return _Answer(resp.status, resp.reason or "", resp.headers.get("Location"), content_type, body)
    except (Urllib3Error, OSError) as e:
        raise _network_failure(run, target, ip, e) from None
    finally:
        if resp is not None:
            resp.close()
        pool.close()


def _one_hop(run: _Run, target: _Target, hop: int) -> _Answer:
    addresses = _addresses(run, target, hop)
    last: AnalysisStop | None = None
    for ip in addresses:  # in the resolver's order; the next address only when this one refuses connections
        try:
            return _exchange(run, target, ip)
        except AnalysisStop as stop:
            if stop.finding.code != "fetch_connect_failed" or run.timed_out():
                raise
            last = stop
    assert last is not None
    raise last


def _accept(run: _Run, answer: _Answer, target: _Target, now: datetime) -> Fetched:
    if answer.body is None:
        hint = (
            "the tenant, app ID or path in the URL is wrong"
            if 400 <= answer.status < 500 and answer.status != 429
            else "the server is throttling or unavailable: try again later"
        )
        raise AnalysisStop(
            finding(
                "fetch_http_error",
                f"{target.host} answered HTTP {answer.status} {answer.reason}".rstrip(),
                expected="HTTP 200 with the metadata document",
                actual=f"HTTP {answer.status} {_show(answer.reason, 60)}; "
                f"Content-Type {_show(answer.content_type, 80) or 'none'} ({hint})",
                where=run.where,
            )
        )
    body = answer.body
    media = answer.content_type.split(";", 1)[0].strip().lower()
    described = f"Content-Type {_show(answer.content_type, 80) or 'none'}, {len(body)} bytes"
    if media in ("text/html", "application/xhtml+xml") or _HTML.match(strip_bom(body[:4096])):
        raise AnalysisStop(
            finding(
                "fetch_html_page",
                expected="an XML metadata document",
                actual=f"an HTML page ({described})",
                where=run.where,
            )
        )
    if not strip_bom(body).strip():
        raise AnalysisStop(
            finding("fetch_not_xml", "The URL returned an empty answer", actual=described, where=run.where)
        )
    xml_ish = media in XML_TYPES or media.endswith("+xml")
    if not xml_ish and not (media == "" and strip_bom(body[:4096]).lstrip().startswith(b"<")):
        raise AnalysisStop(
            finding(
                "fetch_not_xml",
                expected="Content-Type application/samlmetadata+xml, application/xml or text/xml",
                actual=described,
                where=run.where,
            )
        )
    return Fetched(url=target.url, body=body, fetched_at=now, from_cache=False, age_seconds=0)


def _download(first: _Target, policy: FetchPolicy, now: datetime, resolver: Resolver, where: str) -> Fetched:
    watchdog = _Watchdog()
    run = _Run(policy, resolver, time.monotonic() + policy.total_timeout, watchdog, where)
    timer = threading.Timer(policy.total_timeout, watchdog.fire)
    timer.daemon = True
    timer.start()
    try:
        target = first
        hop = 0
        while True:
            answer = _one_hop(run, target, hop)
            if answer.status not in REDIRECTS:
                return _accept(run, answer, target, now)
            if hop >= policy.max_redirects:
                raise AnalysisStop(
                    finding(
                        "fetch_too_many_redirects",
                        f"The metadata URL redirects more than {policy.max_redirects} times",
                        expected=f"at most {policy.max_redirects} redirects",
                        actual=f"redirect {hop + 1} (HTTP {answer.status}) from {_show(target.url, 120)}",
                        where=where,
                    )
                )
            if not answer.location:
                raise AnalysisStop(
                    finding(
                        "fetch_http_error",
                        f"{target.host} answered HTTP {answer.status} without a Location",
                        expected="a Location header on a redirect",
                        actual=f"HTTP {answer.status}, no Location",
                        where=where,
                    )
                )
            hop += 1
            target = _check_url(urljoin(target.url, answer.location), policy, hop, where)
    finally:
        timer.cancel()


def fetch_metadata(
    url: str,
    policy: FetchPolicy,
    *,
    now: datetime,
    cache: MetadataCache | None = None,
    resolver: Resolver = socket.getaddrinfo,
) -> Fetched:
    """Fetch a metadata document under `policy`, or raise AnalysisStop with the finding that says why not.

    `now` is the wall-clock time of the fetch (not an analysis's evaluation instant): it stamps the copy and
    ages the cache. The URL is checked before the cache is consulted, so tightening the policy also hides
    copies fetched under the old one.
    """
    where = _show(url)
    first = _check_url(url, policy, 0, where)
    if cache is not None:
        hit = cache.get(first.url)
        if hit is not None:
            age = max(0, int((now - hit.fetched_at).total_seconds()))
            if policy.offline or age <= policy.cache_ttl:
                return replace(hit, from_cache=True, age_seconds=age)
    if policy.offline:
        raise AnalysisStop(finding("fetch_offline_miss", actual="no cached copy of this URL", where=where))
    fetched = _download(first, policy, now, resolver, where)
    if cache is not None:
        cache.put(first.url, fetched)
    return fetched


def cache_note(fetched: Fetched) -> Finding | None:
    """An info finding stating a cached copy's age (None for a fresh fetch)."""
    if not fetched.from_cache:
        return None
    return finding(
        "metadata_cached",
        f"The metadata was served from the cache (fetched {_age(fetched.age_seconds)} ago)",
        actual=f"fetched at {iso(fetched.fetched_at)}, {fetched.age_seconds} s ago",
        where=_show(fetched.url),
    )


def _age(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} s"


# --- what Entra metadata says -------------------------------------------------------------------------


def rollover(certs: Sequence[x509.Certificate], now: datetime) -> list[tuple[x509.Certificate, str]]:
    """Each certificate with its state at `now`, in the given order, judged from dates alone:

    - "active": currently valid and the newest such (latest notBefore; then latest notAfter; then listed first);
    - "old": currently valid but superseded by the active one;
    - "new": not valid yet while another certificate is valid (a rollover in preparation);
    - "not yet valid": not valid yet and no certificate is valid now;
    - "expired": past its notAfter.

    Entra signs with the certificate marked Active in the portal, which the metadata does not say: this is the
    best reading of the dates, and findings say so.
    """
    valid = [c for c in certs if c.not_valid_before_utc <= now <= c.not_valid_after_utc]
    active = max(valid, key=lambda c: (c.not_valid_before_utc, c.not_valid_after_utc), default=None)
    out: list[tuple[x509.Certificate, str]] = []
    for c in certs:
        if c.not_valid_after_utc < now:
            state = "expired"
        elif c.not_valid_before_utc > now:
            state = "new" if active is not None else "not yet valid"
        else:
            state = "active" if c is active else "old"
        out.append((c, state))
    return out


def _cert_label(i: int, c: x509.Certificate) -> str:
    facts = cert_info(c, "")
    cns = c.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    name = str(cns[0].value) if cns else facts.subject
    return f"#{i} {name} (SHA-1 {facts.sha1})"


def cert_findings(certs: Sequence[x509.Certificate], now: datetime, where: str | None = None) -> list[Finding]:
    """Expiry warnings at Entra's 60/30/7-day thresholds for every signing certificate, expired ones, and the
    rollover picture when there is more than one certificate or the only one is not active."""
    out: list[Finding] = []
    states = rollover(certs, now)
    for i, (c, state) in enumerate(states, 1):
        end = iso(c.not_valid_after_utc)
        if state == "expired":
            ago = (now - c.not_valid_after_utc).days
            out.append(
                finding(
                    "metadata_cert_expired",
                    f"Signing certificate #{i} expired {ago} day{'s' if ago != 1 else ''} ago",
                    expected="signing certificates within their validity",
                    actual=f"{_cert_label(i, c)}: valid until {end}",
                    where=where,
                )
            )
        elif state in ("active", "old"):
            days = (c.not_valid_after_utc - now).days
            notice = next((n for n in EXPIRY_NOTICE_DAYS if days < n), None)
            if notice is None:
                continue
            out.append(
                finding(
                    "cert_expiring",
                    f"Signing certificate #{i} expires in {days} day{'s' if days != 1 else ''}"
                    f" (within Entra's {notice}-day notice)",
                    expected=f"more than {EXPIRY_NOTICE_DAYS[-1]} days of validity left",
                    actual=f"{_cert_label(i, c)} ({state}): valid until {end}",
                    where=where,
                    severity=Severity.INFO if notice == EXPIRY_NOTICE_DAYS[-1] else Severity.WARNING,
                )
            )
    if len(states) > 1 or any(s != "active" for _, s in states):
        picture = "; ".join(
            f"{_cert_label(i, c)}: {s}, valid {iso(c.not_valid_before_utc)} → {iso(c.not_valid_after_utc)}"
            for i, (c, s) in enumerate(states, 1)
        )
        none_valid = not any(s in ("active", "old") for _, s in states)
        out.append(
            finding(
                "cert_rollover",
                "No signing certificate in the metadata is valid now"
                if none_valid
                else f"{len(states)} signing certificates: the rollover picture (from dates; Entra's portal shows "
                "which one is Active)",
                expected="one currently valid signing certificate that the SP trusts",
                actual=picture,
                where=where,
                severity=Severity.WARNING if none_valid else None,
            )
        )
    return out


def _entra_url(url: str) -> tuple[str | None, bool, bool]:
    """(tenant segment or None, has appid, is an Entra federation-metadata URL)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None, False, False
    host = (parts.hostname or "").rstrip(".")
    segments = [s for s in parts.path.split("/") if s]
    is_fedmeta = host in ENTRA_HOSTS and bool(segments) and segments[-1].lower() == "federationmetadata.xml"
    tenant = segments[0].lower() if segments and segments[0].lower() != "federationmetadata" else None
    has_appid = any(k.lower() == "appid" and v.strip() for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return tenant, has_appid, is_fedmeta


def classify_metadata(info: IdpInfo, url: str | None, *, now: datetime) -> list[Finding]:
    """Findings about a metadata document as a trust source, for Entra: what `metadata.findings_for` says
    (with Entra's own explanation for Microsoft Online's SP metadata, so call this instead of it), tenant
    instead of app metadata, the 'common' endpoint, validUntil, certificate expiry and rollover."""
    where = info.source
    out: list[Finding] = []
    for f in md.findings_for(info):
        if f.code == "not_idp_metadata" and info.entity_id == MICROSOFT_ONLINE:
            f = finding(
                "not_idp_metadata",
                "This is Microsoft Online's own metadata (urn:federation:MicrosoftOnline), not an app's IdP metadata",
                expected="the app's Federation Metadata (an IDPSSODescriptor with the app's signing certificate)",
                actual=f"entityID {MICROSOFT_ONLINE!r}, role {info.role}: Entra / Microsoft 365 as the service "
                "provider of a federated identity provider (e.g. ADFS)",
                fix="This document is for configuring a federated IdP (ADFS, Okta, …) in front of Entra. For a "
                "SAML app signed by Entra, use the App Federation Metadata Url from Entra → your app → Single "
                "sign-on → SAML Certificates (…/federationmetadata.xml?appid=<app ID>).",
                where=where,
            )
        out.append(f)
    tenant, has_appid, is_fedmeta = _entra_url(url) if url else (None, False, False)
    common_url = is_fedmeta and (tenant is None or tenant in TENANT_INDEPENDENT)
    template = "{" in info.entity_id
    if common_url or template:
        out.append(
            finding(
                "metadata_common_endpoint",
                expected="https://sts.windows.net/<your tenant ID>/ and the app's own certificate",
                actual=f"entityID {info.entity_id!r}"
                + (f" from the {tenant or 'tenant-less'} endpoint" if common_url else ""),
                where=where,
            )
        )
    elif is_fedmeta and not has_appid:
        out.append(
            finding(
                "metadata_tenant_wide",
                expected="…/federationmetadata.xml?appid=<Application ID>",
                actual=f"{_show(url or '', 160)} (no appid: tenant-wide certificates)",
                where=where,
            )
        )
    if info.valid_until is not None:
        until = parse_time(info.valid_until)
        if until is None:
            out.append(finding("bad_time_format", actual=f"validUntil={_show(info.valid_until, 60)!r}", where=where))
        elif until < now:
            out.append(
                finding(
                    "metadata_expired",
                    f"The metadata expired on {iso(until)} (validUntil)",
                    expected=f"validUntil after {iso(now)}",
                    actual=f"validUntil={info.valid_until}",
                    where=where,
                )
            )
    out.extend(cert_findings(info.signing_certs, now, where))
    return out


# --- the metadata's own signature ---------------------------------------------------------------------

_SIG = f"{{{DS}}}Signature"
_KEY_DESCRIPTOR = f"{{{MD}}}KeyDescriptor"
_X509_CERT = f"{{{DS}}}X509Certificate"
_ID_ATTRS = ("ID", "Id", "AssertionID")


def _own_certs(root: etree._Element) -> list[Anchor]:
    """Every signing certificate the document lists, in any role (Microsoft Online's metadata lists its keys in
    an SPSSODescriptor)."""
    out: list[Anchor] = []
    seen: list[x509.Certificate] = []
    for kd in root.iter(_KEY_DESCRIPTOR):
        if kd.get("use") not in (None, "signing"):
            continue
        role = kd.getparent()
        role_name = etree.QName(role).localname if role is not None else "?"
        for xc in kd.iter(_X509_CERT):
            try:
                found = load_certs("".join((xc.text or "").split()))
            except CertError:
                continue
            for c in found:
                if c not in seen:
                    seen.append(c)
                    out.append(Anchor(c, f"the metadata's own signing certificate #{len(seen)} ({role_name})"))
    return out


def _shape_problem(root: etree._Element, sigs: list[etree._Element]) -> str | None:
    """What signxml does not check: one Signature, one Reference, to the document element itself, with only
    enveloped-signature and c14n transforms, and an ID nobody else uses."""
    if len(sigs) > 1:
        return f"{len(sigs)} Signature elements under the document element (one expected)"
    refs = sigs[0].findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    if len(refs) != 1:
        return f"{len(refs)} References in SignedInfo (one expected)"
    uri = refs[0].get("URI")
    root_id = next((root.get(a) for a in _ID_ATTRS if root.get(a)), None)
    if uri != "" and (root_id is None or uri != f"#{root_id}"):
        return f"the Reference URI {_show(uri or 'none', 80)!r} does not point at the document element (ID {root_id!r})"
    if root_id is not None:
        same = sum(1 for el in root.iter() if isinstance(el.tag, str) and any(el.get(a) == root_id for a in _ID_ATTRS))
        if same > 1:
            return f"the ID {root_id!r} is used by {same} elements"
    for t in refs[0].iterfind(f"{{{DS}}}Transforms/{{{DS}}}Transform"):
        if (t.get("Algorithm") or "") not in ALLOWED_TRANSFORMS:
            return f"a transform other than enveloped-signature and c14n: {_show(t.get('Algorithm') or '?', 100)}"
    return None


def _try_cert(xml: bytes, cert: x509.Certificate) -> str:
    """'verified', 'digest' (content changed), 'value' (not this key) or 'malformed: …'."""
    # Certificate dates are reported by classify_metadata, so the check runs at an instant inside the
    # certificate's validity (Entra's reference metadata is signed with keys long expired).
    instant = cert.not_valid_before_utc + (cert.not_valid_after_utc - cert.not_valid_before_utc) / 2
    config = SignatureConfiguration(
        location="./",
        expect_references=1,
        signature_methods=POLICY.signature_methods,
        digest_algorithms=POLICY.digest_algorithms,
        verification_time=instant,
    )
    try:
        XMLVerifier().verify(xml, x509_cert=cert, parser=make_parser(), expect_config=config)
    except InvalidDigest:
        return "digest"
    except (InvalidSignature, cryptography.exceptions.InvalidSignature):
        return "value"
    except (InvalidInput, ValueError, TypeError, KeyError, etree.LxmlError) as e:
        return f"malformed: {_show(str(e), 160)}"
    return "verified"


def verify_metadata_signature(
    root: etree._Element, xml: bytes, anchors: Iterable[Anchor]
) -> tuple[str, CertInfo | None, list[Finding]]:
    """The metadata document's own ds:Signature: ("valid" | "invalid" | "unsigned", the certificate that
    verified it, findings). `root` is `xml` parsed by samldebug.xmlsafe.parse (signxml re-parses `xml` with the
    same hardened parser). The given anchors are tried first, then the certificates the document lists (which
    proves integrity only: the finding says so)."""
    where = f"{etree.QName(root).localname}/Signature"
    sigs = root.findall(_SIG)
    if not sigs:
        return (
            "unsigned",
            None,
            [finding("metadata_unsigned", actual="no Signature under the document element", where=where)],
        )
    method = sigs[0].find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    algorithm = (method.get("Algorithm") or "?") if method is not None else "?"
    weak = " (SHA-1: deprecated)" if "sha1" in algorithm.lower() else ""
    problem = _shape_problem(root, sigs)
    if problem is not None:
        return (
            "invalid",
            None,
            [
                finding(
                    "metadata_signature_invalid",
                    "The metadata's signature does not cover the document as read",
                    expected="one enveloped signature over the whole document",
                    actual=problem,
                    where=where,
                )
            ],
        )
    trusted = list(anchors)
    own = [a for a in _own_certs(root) if not any(a.cert == t.cert for t in trusted)]
    data = strip_bom(xml)
    outcomes: list[str] = []
    for n, anchor in enumerate(trusted + own):
        outcome = _try_cert(data, anchor.cert)
        if outcome != "verified":
            outcomes.append(outcome)
            continue
        key = cert_info(anchor.cert, anchor.source)
        signer = f"{key.subject} (SHA-1 {key.sha1}), {anchor.source}; {algorithm.rsplit('#', 1)[-1]}{weak}"
        if n < len(trusted):
            found = finding(
                "metadata_signature_valid",
                f"The metadata's signature verifies with {anchor.source}",
                actual=signer,
                where=where,
            )
        else:
            found = finding(
                "metadata_self_signed",
                actual=signer + ". Trust comes from how the document was obtained (HTTPS from an allowed Entra "
                "host, or a file downloaded from Entra), not from this signature.",
                where=where,
            )
        return "valid", key, [found]
    tried = len(trusted) + len(own)
    if tried == 0:
        return (
            "invalid",
            None,
            [
                finding(
                    "metadata_signature_invalid",
                    "The metadata is signed, but no certificate was given or listed to check it with",
                    actual=f"signed ({algorithm.rsplit('#', 1)[-1]}); 0 certificates to try",
                    where=where,
                    severity=Severity.WARNING,
                )
            ],
        )
    if "digest" in outcomes:
        title, why = "The metadata was changed after it was signed", "the digest of the document does not match"
    elif all(o == "value" for o in outcomes):
        title, why = (
            f"The metadata's signature verifies with none of the {tried} certificates tried",
            "signed with another key",
        )
    else:
        title, why = "The metadata's signature could not be checked", next(o for o in outcomes if o.startswith("m"))
    return (
        "invalid",
        None,
        [
            finding(
                "metadata_signature_invalid",
                title,
                expected="a signature that verifies with a trusted or listed certificate",
                actual=f"{why}; {len(trusted)} trust anchor(s) and {len(own)} listed certificate(s) tried{weak}",
                where=where,
            )
        ],
    )


__all__ = [
    "CLOUDS",
    "ENTRA_HOSTS",
    "FetchPolicy",
    "Fetched",
    "MemoryCache",
    "MetadataCache",
    "Resolver",
    "address_refusal",
    "cache_note",
    "cert_findings",
    "classify_metadata",
    "entra_metadata_url",
    "fetch_metadata",
    "rollover",
    "verify_metadata_signature",
]
