"""Analysis settings: one frozen dataclass, passed all the way down (never a global)."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import msgspec

from .certs import Anchor
from .entra import CLOUDS

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds that keep one analysis cheap whatever the input."""

    max_input_bytes: int = 4 * MiB  # raw pasted text (base64 of 1 MiB XML, URL-encoded, fits)
    max_xml_bytes: int = 1 * MiB  # one decoded message; also the inflate cap
    max_depth: int = 64  # element nesting; real SAML stays below 15
    max_elements: int = 20_000
    max_attributes_per_element: int = 64
    max_signatures: int = 8
    max_references: int = 4
    max_anchors: int = 16  # trust anchors tried per signature (Entra metadata lists 1–3)
    max_capture_bytes: int = 256 * MiB  # a whole HAR / SAML-tracer export
    max_capture_messages: int = 200  # SAML messages analysed from one capture
    max_capture_saml_entries: int = 1_000  # SAML-carrying entries kept from one capture (duplicates included)
    max_capture_errors: int = 500  # Entra error entries kept from one capture (each is a timeline row and findings)
    max_report_xml_bytes: int = 16 * MiB  # message XML kept in one report; past it later messages keep none
    time_budget: float = 5.0  # CPU seconds for one whole analysis (budget.py); past it the analysis is cut off


@dataclass(frozen=True)
class Settings:
    """What the SP expects and whom to trust. Every field is optional: without a value, the matching
    check says what it saw and that it had nothing to compare with."""

    sp_entity_id: str | None = None  # Entra "Identifier (Entity ID)"; the Audience the SP expects
    acs_url: str | None = None  # Entra "Reply URL"; Recipient / Destination the SP expects
    idp_entity_id: str | None = None  # Issuer the SP expects (from metadata when given)
    anchors: tuple[Anchor, ...] = ()  # trust anchors: metadata signing certs, pasted certs
    skew: int = 180  # seconds of clock skew tolerated on every time check
    required_claims: tuple[str, ...] = ()  # attribute names the SP needs (full URI or the name the SP uses)
    reply_urls: tuple[str, ...] = ()  # every Reply URL configured in Entra (acs_url is the SP's own)
    sp_anchors: tuple[Anchor, ...] = ()  # the SP's signing certificates (request signatures)
    require_signed_requests: bool = False  # the SP signs its requests / Entra requires verification certs
    idp_sso_urls: tuple[str, ...] = ()  # SingleSignOnService locations from the IdP metadata
    idp_slo_urls: tuple[str, ...] = ()  # SingleLogoutService locations from the IdP metadata
    expected_name_id: str | None = None  # the value the SP expects for this user (claim-transformation hints)
    # The SP's private keys, to decrypt EncryptedAssertions. Held only for one analysis: never stored, logged or
    # echoed (Settings is never serialised).
    decryption_keys: tuple[Any, ...] = field(default=(), repr=False)
    profile: Any = None  # the SP profile these settings came from (profiles.Profile), for the checklist
    name_id_format: str | None = None  # the NameID format the SP expects
    app_id: str | None = None  # the enterprise app's Application ID: sign-in log events of other apps are told apart
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class FetchPolicy:
    """What a metadata fetch may do. Built from the operator's configuration (AppConfig.fetch_policy); tests
    loosen it explicitly."""

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


_PREFIX = "SAMLDEBUG_"


def _prefixed(env: Mapping[str, str]) -> dict[str, str]:
    """The SAMLDEBUG_* variables the configuration reads. A lookup per name (about 40, nearly all missing: a
    KeyError inside os.environ each) cost more than the rest of reading the configuration; one pass over the
    environment is cheaper unless the environment is large (os.environ decodes every name it yields)."""
    if len(env) > 4 * len(_NAMES):
        return {k: v for k in _NAMES if (v := env.get(k)) is not None}
    return {k: env[k] for k in env if k.startswith(_PREFIX)}


# Words operators write for booleans in the environment, beyond msgspec's true/false/1/0.
_BOOL_WORDS = {"yes": "true", "on": "true", "no": "false", "off": "false"}
_FIELD_PATH = re.compile(r"`\$\.([a-z_]+)`")


@dataclass(frozen=True)
class AppConfig:
    """Operator settings for the web app. Each field is read from the environment variable
    SAMLDEBUG_<FIELD NAME IN UPPER CASE>, or from `samldebug.toml` in the instance folder (same names in lower
    case); the environment wins. Every field is documented in the README table (a test keeps it so)."""

    secret_key: str = ""  # signs CSRF tokens; default: generated once into the instance folder
    database_url: str = ""  # default: SQLite in the instance folder (sqlite:///…/samldebug.db)
    max_upload_bytes: int = 128 * MiB  # largest request body (HAR uploads); bigger → 413
    max_input_bytes: int = 4 * MiB  # largest single pasted message (raw text)
    max_xml_bytes: int = 1 * MiB  # largest decoded XML message
    default_skew: int = 180  # seconds of clock skew when the form leaves it empty
    metadata_allowed_hosts: str = ",".join(CLOUDS.values())  # the Entra login hosts
    metadata_allow_http: bool = False  # allow http:// metadata URLs
    metadata_allow_private: bool = False  # allow metadata hosts on loopback/private addresses (tests, labs)
    metadata_timeout: float = 8.0  # seconds, whole fetch
    metadata_cache_ttl: int = 3600  # seconds a fetched metadata document is reused
    profiles_file: str = ""  # SP profiles (TOML); default: profiles.toml in the instance folder
    share_max_expiry: int = 30 * 86400  # longest permalink lifetime an operator allows, seconds
    rate_limit_analyze: str = "120/minute"  # per client address
    rate_limit_share: str = "20/minute"  # per client address
    trust_proxy_headers: bool = False  # honour X-Forwarded-For/-Proto (set behind a reverse proxy)
    sp_private_key_file: str = ""  # an SP private key (PEM) used to decrypt encrypted assertions for everyone
    rate_limit_storage: str = "memory://"  # Flask-Limiter storage; redis://host:6379/0 shares limits between instances
    auth: str = "off"  # who may use the page: off | proxy | oidc
    auth_proxy_header: str = "X-Auth-Request-Email"  # proxy mode: the header carrying the signed-in user
    auth_proxy_addresses: str = ""  # proxy mode: addresses/networks allowed to send that header (comma-separated)
    oidc_issuer: str = ""  # OIDC mode: issuer URL (its /.well-known/openid-configuration is read)
    oidc_client_id: str = ""  # OIDC mode: the app registration's client ID
    oidc_client_secret: str = ""  # OIDC mode: its client secret
    oidc_scope: str = "openid profile email"  # OIDC mode: scopes asked for
    oidc_allowed_groups: str = ""  # OIDC mode: ID-token `groups` values allowed (comma-separated; empty: any)
    oidc_allowed_roles: str = ""  # OIDC mode: ID-token `roles` (app roles) allowed (comma-separated; empty: any)
    auth_permalinks: bool = False  # opening a permalink also requires sign-in (when auth is on)
    audit_log: str = ""  # audit trail as JSON lines: a file path, "-" for stderr; default <instance>/audit.jsonl
    # Optional sign-in log lookup in Microsoft Graph (all three set, or nothing is fetched): an app registration
    # with a certificate credential and the application permission AuditLog.Read.All.
    graph_tenant: str = ""  # tenant ID or domain whose sign-in logs are read
    graph_client_id: str = ""  # the app registration's Application (client) ID
    graph_cert_file: str = ""  # PEM file with the certificate credential's private key and certificate
    graph_cloud: str = "global"  # global | usgov | china

    @classmethod
    def load(cls, env: Mapping[str, str], file_values: Mapping[str, object] | None = None) -> AppConfig:
        """`file_values` (samldebug.toml) overridden by SAMLDEBUG_* variables; text converted by msgspec."""
        return cls._from_values(_prefixed(env), file_values or {})

    @classmethod
    def _from_values(cls, given: Mapping[str, str], file_values: Mapping[str, object]) -> AppConfig:
        values: dict[str, object] = {}
        for name, variable, is_bool in _FIELDS:
            raw = given.get(variable, file_values.get(name))
            if raw is None:
                continue
            if is_bool and isinstance(raw, str):
                raw = _BOOL_WORDS.get(raw.strip().lower(), raw.strip().lower())
            values[name] = raw
        try:
            return msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as e:
            m = _FIELD_PATH.search(str(e))
            name = f"{_PREFIX}{m.group(1).upper()}" if m else "samldebug configuration"
            raise ValueError(f"{name}: {e}") from None

    @classmethod
    def from_instance(cls, env: Mapping[str, str], instance: str | Path | None = None) -> tuple[AppConfig, Path]:
        """The operator's configuration as the web page and the CLI both read it: samldebug.toml in the instance
        folder (SAMLDEBUG_INSTANCE_PATH, else `instance`, else ./instance), overridden by the environment."""
        given = _prefixed(env)
        # os.path.realpath is what Path.resolve runs, without the extra stat it adds only to raise on a symlink loop.
        folder = Path(os.path.realpath(given.get("SAMLDEBUG_INSTANCE_PATH") or instance or "instance"))
        file = os.path.join(folder, "samldebug.toml")
        file_values = tomllib.loads(Path(file).read_text(encoding="utf-8")) if os.path.isfile(file) else {}
        return cls._from_values(given, file_values), folder

    @classmethod
    def from_environment(cls) -> tuple[AppConfig, Path]:
        return cls.from_instance(os.environ)

    def fetch_policy(self, extra_hosts: tuple[str, ...] = (), ca_file: str | None = None) -> FetchPolicy:
        """The one FetchPolicy for metadata URLs, whichever shell asks."""
        hosts = tuple(h.strip() for h in self.metadata_allowed_hosts.split(",") if h.strip())
        return FetchPolicy(
            allowed_hosts=hosts + tuple(h for h in extra_hosts if h not in hosts),
            allow_http=self.metadata_allow_http,
            allow_private=self.metadata_allow_private,
            total_timeout=self.metadata_timeout,
            cache_ttl=self.metadata_cache_ttl,
            max_bytes=self.max_xml_bytes,
            ca_file=ca_file,
        )

    def profiles_path(self, instance: Path) -> str:
        return self.profiles_file or str(instance / "profiles.toml")

    def limits(self) -> Limits:
        return Limits(max_input_bytes=self.max_input_bytes, max_xml_bytes=self.max_xml_bytes)


# (field, its environment variable, whether it is a bool) for each AppConfig field.
_FIELDS = tuple((f.name, f"{_PREFIX}{f.name.upper()}", f.type == "bool") for f in fields(AppConfig))
_NAMES = (*(variable for _, variable, _ in _FIELDS), f"{_PREFIX}INSTANCE_PATH")
