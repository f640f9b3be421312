"""Look a sign-in up in Microsoft Graph by correlation ID or request ID (optional, operator-configured).

The operator registers an app in their tenant with a certificate credential and the Microsoft Graph application
permission AuditLog.Read.All (admin consent), and sets SAMLDEBUG_GRAPH_TENANT, SAMLDEBUG_GRAPH_CLIENT_ID,
SAMLDEBUG_GRAPH_CERT_FILE (PEM: private key and certificate) and, for a national cloud, SAMLDEBUG_GRAPH_CLOUD.
Nothing is fetched unless all of these are set. MSAL gets the token (client credentials with a certificate: a
signed JWT client assertion); its http_client is fetch.MsalHttpClient, so MSAL and the Graph query can reach only
the configured cloud's login and Graph hosts, under the metadata fetcher's SSRF rules. A shell module: the core
never imports it.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .catalog import clip, finding
from .config import AppConfig, FetchPolicy
from .entra import GUID
from .fetch import MsalHttpClient, Resolver, TransportError, http_request
from .model import AnalysisStop

# Cloud → (login host, Microsoft Graph host).
CLOUDS: Final = {
    "global": ("login.microsoftonline.com", "graph.microsoft.com"),
    "usgov": ("login.microsoftonline.us", "graph.microsoft.us"),
    "china": ("login.chinacloudapi.cn", "microsoftgraph.chinacloudapi.cn"),
}
MAX_ANSWER: Final = 8 * 1024 * 1024  # a page of at most TOP events


@dataclass(frozen=True)
class GraphSettings:
    tenant: str
    client_id: str
    private_key_pem: bytes = b""
    certificate_pem: bytes = b""
    cloud: str = "global"
    timeout: float = 10.0
    ca_file: str | None = None  # tests: the loopback server's CA
    allow_private: bool = False  # tests: the loopback server
    port: int | None = None  # tests: the loopback server's port (the hosts stay the cloud's own)

    @property
    def login_host(self) -> str:
        return CLOUDS[self.cloud][0]

    @property
    def graph_host(self) -> str:
        return CLOUDS[self.cloud][1]

    def base(self, host: str) -> str:
        return f"https://{host}" + (f":{self.port}" if self.port else "")

    def policy(self) -> FetchPolicy:
        return FetchPolicy(
            allowed_hosts=(self.login_host, self.graph_host),
            allow_private=self.allow_private,
            total_timeout=self.timeout,
            max_bytes=MAX_ANSWER,
            max_redirects=0,
            ca_file=self.ca_file,
        )

    def thumbprint(self) -> str:
        """SHA-1 of the certificate's DER, hex: the x5t Entra matches against the app's uploaded certificate."""
        cert = x509.load_pem_x509_certificate(self.certificate_pem)
        return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()  # noqa: S324 - x5t is SHA-1


def from_config(config: AppConfig) -> GraphSettings | None:
    """The lookup's settings, or None when the operator has not configured it (then nothing is ever fetched)."""
    if not (config.graph_tenant and config.graph_client_id and config.graph_cert_file):
        return None
    if config.graph_cloud not in CLOUDS:
        raise ValueError(f"SAMLDEBUG_GRAPH_CLOUD must be one of {', '.join(CLOUDS)}, not {config.graph_cloud!r}")
    pem = Path(config.graph_cert_file).read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert = x509.load_pem_x509_certificate(pem)
    return GraphSettings(
        tenant=config.graph_tenant,
        client_id=config.graph_client_id,
        private_key_pem=key_pem,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM),
        cloud=config.graph_cloud,
        timeout=config.metadata_timeout,
    )


def query(kind: str, value: str) -> str:
    """The Graph path and query for one ID: a request ID is the event's own id; a correlation ID filters the list
    (interactive and non-interactive events of the same flow share it). Only GUIDs are accepted, so nothing typed
    by a user reaches the filter expression."""
    value = value.strip().lower()
    if not GUID.fullmatch(value):
        raise AnalysisStop(
            finding(
                "signin_lookup_failed",
                "The ID to look up is not a GUID",
                expected="a correlation ID or request ID such as 6d0b7a1e-5f3c-4a28-b9e4-1c7d2f8a3e55",
                actual=clip(value, 80),
            )
        )
    if kind == "request":
        return f"/beta/auditLogs/signIns/{value}"
    params = {"$filter": f"correlationId eq '{value}'", "$top": "50"}
    return "/beta/auditLogs/signIns?" + urlencode(params, quote_via=quote)


_APPS: dict[GraphSettings, Any] = {}
_LOCK = threading.Lock()


def _app(settings: GraphSettings, resolver: Resolver) -> Any:
    """One MSAL app per configuration (it caches the token until shortly before it expires)."""
    import msal  # type: ignore[import-untyped]

    key = replace(settings, timeout=0)
    with _LOCK:
        app = _APPS.get(key)
        if app is None:
            app = msal.ConfidentialClientApplication(
                settings.client_id,
                authority=f"{settings.base(settings.login_host)}/{settings.tenant}",
                client_credential={
                    "private_key": settings.private_key_pem.decode(),
                    "thumbprint": settings.thumbprint(),
                },
                http_client=MsalHttpClient(settings.policy(), resolver),
                instance_discovery=False,
            )
            _APPS[key] = app
        return app


def lookup(settings: GraphSettings, kind: str, value: str, *, resolver: Resolver = socket.getaddrinfo) -> bytes:
    """The Graph answer for one correlation ID (a list page) or request ID (one event), as JSON bytes, ready for
    pipeline.analyze. Raises AnalysisStop with signin_lookup_failed / signin_lookup_not_found."""
    path = query(kind, value)
    try:
        result = _app(settings, resolver).acquire_token_for_client(scopes=[f"https://{settings.graph_host}/.default"])
    except TransportError as e:
        raise AnalysisStop(e.finding) from None
    except ValueError as e:  # MSAL: a discovery document it cannot use
        raise AnalysisStop(finding("signin_lookup_failed", actual=clip(str(e), 300))) from None
    token = result.get("access_token") if isinstance(result, dict) else None
    if not token:
        error = result.get("error_description") or result.get("error") if isinstance(result, dict) else None
        raise AnalysisStop(
            finding("signin_lookup_failed", "No token for Microsoft Graph", actual=clip(str(error), 300))
        )
    try:
        answer = http_request(
            "GET",
            settings.base(settings.graph_host) + path,
            settings.policy(),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            resolver=resolver,
        )
    except AnalysisStop:
        raise
    if answer.status == 404:
        raise AnalysisStop(finding("signin_lookup_not_found", actual=f"request ID {value}"))
    if answer.status != 200:
        text = answer.body.decode("utf-8", "replace")
        raise AnalysisStop(
            finding("signin_lookup_failed", f"Microsoft Graph answered HTTP {answer.status}", actual=clip(text, 300))
        )
    if kind != "request" and b'"value":[]' in answer.body.replace(b" ", b""):
        raise AnalysisStop(finding("signin_lookup_not_found", actual=f"correlation ID {value}"))
    return answer.body
