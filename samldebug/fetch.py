"""Metadata from a URL, fetched safely: the only module that opens sockets.

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

What a fetched document means (Entra hints, rollover, its own signature) is metadata.py's job. `fetch_all`
fetches every metadata URL a caller names (CLI, web form) and hands the documents to trust.collect.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from .catalog import clip, finding
from .config import FetchPolicy, MiB
from .decode import strip_bom
from .entra import CLOUDS, GUID, TENANT_INDEPENDENT
from .instants import iso
from .model import AnalysisStop, Finding, Severity

T = TypeVar("T")

USER_AGENT = "samldebug-metadata-fetch/0.1"
ACCEPT = "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
XML_TYPES = frozenset({"application/samlmetadata+xml", "application/xml", "text/xml"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024

# A DNS name of two labels or more whose last label starts with a letter (so an IPv4 address is not one).
_DNS_NAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_HTML_START = re.compile(rb"<(?:!doctype\s+html|html[\s>])", re.I)  # anchored at one position: constant work


def looks_like_html(head: bytes) -> bool:
    """An HTML page (a login or error page served where metadata was expected): optional XML declaration and
    comments, then <!DOCTYPE html> or <html>. One left-to-right pass: each comment is skipped with one find (the
    pattern this replaces backtracked exponentially over runs of empty comments)."""
    pos = len(head) - len(head.lstrip())
    if head.startswith(b"<?xml", pos):
        end = head.find(b">", pos, pos + 256)
        if end < 0:
            return False
        pos = end + 1
    while True:
        pos += len(head[pos:]) - len(head[pos:].lstrip())
        if not head.startswith(b"<!--", pos):
            break
        end = head.find(b"-->", pos + 4)
        if end < 0:
            return False
        pos = end + 3
    return _HTML_START.match(head, pos) is not None


# --- policy and results -------------------------------------------------------------------------------


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
    reported by `metadata.classify`. Raises AnalysisStop(entra_id_invalid) for anything else.
    """
    host = CLOUDS.get(cloud)
    if host is None:
        raise _invalid_id("Unknown Entra cloud", " | ".join(CLOUDS), clip(cloud, 40))
    t = tenant.strip().lower()
    if not (GUID.match(t) or _DNS_NAME.match(t) or t in TENANT_INDEPENDENT):
        raise _invalid_id(
            "The tenant is neither a tenant ID (GUID) nor a domain name",
            "a Directory (tenant) ID such as 9188040d-6c67-4c5b-b112-36a304b66dad, or a verified domain",
            clip(tenant, 80),
        )
    url = f"https://{host}/{t}/federationmetadata/2007-06/federationmetadata.xml"
    if app_id and app_id.strip():
        a = app_id.strip().lower()
        if not GUID.match(a):
            raise _invalid_id(
                "The app ID is not a GUID",
                "an Application (client) ID such as 00000000-0000-0000-0000-000000000000",
                clip(app_id, 80),
            )
        url += f"?appid={a}"
    return url


# --- URL and address rules ------------------------------------------------------------------------------


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
    shown = clip(url)
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
            actual=clip(f"{scheme}://…@{parts.hostname or ''}"),
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
                actual=clip(failed[0], 120) if failed else "no address",
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
                    actual=clip(a, 80),
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
    return AnalysisStop(finding(code, title, actual=clip(f"{type(e).__name__}: {e}", 300), where=run.where))


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


@contextlib.contextmanager
def _opened(
    run: _Run, target: _Target, ip: str, method: str, headers: dict[str, str], body: bytes | None = None
) -> Iterator[urllib3.BaseHTTPResponse]:
    """One request to one pinned address within the run's deadline: no retries, no redirects followed, the Host
    header set explicitly; network failures become the run's finding; response and pool are always closed."""
    remaining = run.remaining()
    if remaining <= 0:
        raise run.timeout(f"connecting to {target.host}")
    timeout = urllib3.Timeout(connect=min(run.policy.connect_timeout, remaining), read=remaining)
    pool = _pool(run, target, ip, timeout)
    resp: urllib3.BaseHTTPResponse | None = None
    try:
        try:
            resp = pool.urlopen(
                method,
                target.path,
                body=body,
                headers={"Host": target.host_header, "Accept-Encoding": "identity", **headers},
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                release_conn=False,
                timeout=timeout,
            )
            yield resp
        except (Urllib3Error, OSError) as e:
            raise _network_failure(run, target, ip, e) from None
    finally:
        if resp is not None:
            resp.close()
        pool.close()


def _first_address_that_connects(run: _Run, target: _Target, hop: int, attempt: Callable[[str], T]) -> T:
    """In the resolver's order; the next address only when this one refuses connections."""
    last: AnalysisStop | None = None
    for ip in _addresses(run, target, hop):
        try:
            return attempt(ip)
        except AnalysisStop as stop:
            if stop.finding.code != "fetch_connect_failed" or run.timed_out():
                raise
            last = stop
    assert last is not None
    raise last


def _exchange(run: _Run, target: _Target, ip: str) -> _Answer:
    with _opened(run, target, ip, "GET", {"User-Agent": USER_AGENT, "Accept": ACCEPT}) as resp:
        content_type = resp.headers.get("Content-Type", "")
        body = _read_body(run, resp, target) if resp.status in (200, 203) else None
        return _Answer(resp.status, resp.reason or "", resp.headers.get("Location"), content_type, body)


def _one_hop(run: _Run, target: _Target, hop: int) -> _Answer:
    return _first_address_that_connects(run, target, hop, lambda ip: _exchange(run, target, ip))


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
                actual=f"HTTP {answer.status} {clip(answer.reason, 60)}; "
                f"Content-Type {clip(answer.content_type, 80) or 'none'} ({hint})",
                where=run.where,
            )
        )
    body = answer.body
    media = answer.content_type.split(";", 1)[0].strip().lower()
    described = f"Content-Type {clip(answer.content_type, 80) or 'none'}, {len(body)} bytes"
    if media in ("text/html", "application/xhtml+xml") or looks_like_html(strip_bom(body[:4096])):
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


@contextlib.contextmanager
def _deadline(policy: FetchPolicy, resolver: Resolver, where: str) -> Iterator[_Run]:
    """One fetch's run under `policy.total_timeout`: its watchdog fires at the deadline, whatever the fetch waits on."""
    watchdog = _Watchdog()
    timer = threading.Timer(policy.total_timeout, watchdog.fire)
    timer.daemon = True
    timer.start()
    try:
        yield _Run(policy, resolver, time.monotonic() + policy.total_timeout, watchdog, where)
    finally:
        timer.cancel()


def _download(first: _Target, policy: FetchPolicy, now: datetime, resolver: Resolver, where: str) -> Fetched:
    with _deadline(policy, resolver, where) as run:
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
                        actual=f"redirect {hop + 1} (HTTP {answer.status}) from {clip(target.url, 120)}",
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
    where = clip(url)
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
        where=clip(fetched.url),
    )


def _age(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} s"


# --- every metadata source a caller names ----------------------------------------------------------------


# A refusal by policy must never be worked around with an older copy.
_POLICY_REFUSALS = {
    "fetch_host_not_allowed",
    "fetch_scheme_refused",
    "fetch_address_refused",
    "fetch_bad_url",
    "fetch_redirect_refused",
}


@dataclass(frozen=True)
class MetadataSource:
    """Where metadata comes from: a URL to fetch (or tenant + app ID), given to `fetch_all`."""

    url: str
    label: str


def fetch_all(
    sources: Iterable[MetadataSource],
    policy: FetchPolicy,
    cache: MetadataCache | None,
    wall_clock: datetime,
) -> tuple[list[tuple[bytes, str, str | None]], list[Finding]]:
    """Fetch each source. Returns (documents as (bytes, label, url)), findings). A failed fetch is a finding;
    the analysis goes on without that source. `wall_clock` is the real time (cache ages), not `--now`."""
    docs: list[tuple[bytes, str, str | None]] = []
    notes: list[Finding] = []
    for src in sources:
        try:
            got = fetch_metadata(src.url, policy, now=wall_clock, cache=cache)
        except AnalysisStop as stop:
            stale = cache.get(src.url) if cache is not None and stop.finding.code != "fetch_host_not_allowed" else None
            if stale is None or stop.finding.code in _POLICY_REFUSALS:
                notes.append(stop.finding)
                continue
            # The host is slow or down: the last good copy beats no verification at all; say how old it is.
            age = int((wall_clock - stale.fetched_at).total_seconds())
            got = replace(stale, from_cache=True, age_seconds=max(age, 0))
            notes.append(
                replace(
                    stop.finding,
                    severity=Severity.WARNING,
                    fix=(stop.finding.fix or "") + " The last good copy was used instead.",
                )
            )
        note = cache_note(got)
        if note is not None:
            notes.append(note)
        docs.append((got.body, src.label, src.url))
    return docs, notes


def entra_source(tenant: str, app_id: str | None, cloud: str = "global") -> MetadataSource:
    """An Entra app's (or tenant's) federation metadata as a source; AnalysisStop(entra_id_invalid) when the
    tenant or app ID is not one."""
    url = entra_metadata_url(tenant, app_id, cloud)
    return MetadataSource(url, f"Entra metadata ({tenant}{', app ' + app_id if app_id else ''})")


# --- any request under the same rules (Microsoft Graph sign-in log lookup, its token request) ----------------


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


GRAPH_USER_AGENT = "samldebug-signin-lookup/0.1"


def http_request(
    method: str,
    url: str,
    policy: FetchPolicy,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    resolver: Resolver = socket.getaddrinfo,
) -> HttpAnswer:
    """One request under the metadata fetcher's rules: the host must be in `policy.allowed_hosts`, it is resolved
    once and the connection pinned to a checked address (private and metadata-service addresses refused), one
    deadline bounds it all, the answer is size-capped, and redirects are not followed. Raises AnalysisStop."""
    where = clip(url)
    target = _check_url(url, policy, 0, where)
    with _deadline(policy, resolver, where) as run:
        return _first_address_that_connects(
            run, target, 0, lambda ip: _send(run, target, ip, method, headers or {}, body)
        )


def _send(run: _Run, target: _Target, ip: str, method: str, headers: dict[str, str], body: bytes | None) -> HttpAnswer:
    with _opened(run, target, ip, method, {"User-Agent": GRAPH_USER_AGENT, **headers}, body) as resp:
        data = _read_body(run, resp, target)
        return HttpAnswer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, data)


class TransportError(Exception):
    """A request the transport refused or could not complete; carries the finding that says why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.title)
        self.finding = finding


class MsalResponse:
    """What MSAL reads from its http_client's answers."""

    def __init__(self, answer: HttpAnswer) -> None:
        self.status_code = answer.status
        self.headers = answer.headers
        self.content = answer.body
        self.text = answer.body.decode("utf-8", "replace")

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise TransportError(
                finding("signin_lookup_failed", actual=f"HTTP {self.status_code}: {clip(self.text, 300)}")
            )


class MsalHttpClient:
    """MSAL's `http_client` (get / post, answers with status_code, text, headers, raise_for_status) built on
    `http_request`: MSAL can reach only the hosts `policy` allows (the configured cloud's login and Graph hosts),
    under the same SSRF rules as metadata fetches."""

    def __init__(self, policy: FetchPolicy, resolver: Resolver = socket.getaddrinfo) -> None:
        self.policy = policy
        self.resolver = resolver

    def get(
        self, url: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None, **_: Any
    ) -> MsalResponse:
        return self._do("GET", url, params, None, headers)

    def post(
        self,
        url: str,
        params: dict[str, str] | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        **_: Any,
    ) -> MsalResponse:
        return self._do("POST", url, params, data, headers)

    def close(self) -> None:
        """Nothing to close: every request has its own pinned connection."""

    def _do(
        self, method: str, url: str, params: dict[str, str] | None, data: Any, headers: dict[str, str] | None
    ) -> MsalResponse:
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        send = dict(headers or {})
        body: bytes | None = None
        if isinstance(data, dict):
            body = urlencode(data).encode()
            send.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif isinstance(data, str):
            body = data.encode()
        elif isinstance(data, bytes):
            body = data
        try:
            return MsalResponse(http_request(method, url, self.policy, headers=send, body=body, resolver=self.resolver))
        except AnalysisStop as stop:
            raise TransportError(stop.finding) from None
