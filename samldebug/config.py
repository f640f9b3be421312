"""Analysis settings: one frozen dataclass, passed all the way down (never a global)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .certs import Anchor

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
    time_budget: float = 10.0  # seconds of signature work per analysis; past it the analysis is cut off


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
    limits: Limits = field(default_factory=Limits)


def _env_bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


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
    metadata_allowed_hosts: str = "login.microsoftonline.com,login.microsoftonline.us,login.partner.microsoftonline.cn"
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

    @classmethod
    def load(cls, env: dict[str, str], file_values: dict[str, object] | None = None) -> AppConfig:
        import dataclasses

        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw: object = (file_values or {}).get(f.name, None)
            env_value = env.get(f"SAMLDEBUG_{f.name.upper()}")
            if env_value is not None:
                raw = env_value
            if raw is None:
                continue
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            try:
                if kind == "bool":
                    values[f.name] = raw if isinstance(raw, bool) else _env_bool(str(raw))
                elif kind == "int":
                    values[f.name] = int(str(raw))
                elif kind == "float":
                    values[f.name] = float(str(raw))
                else:
                    values[f.name] = str(raw)
            except ValueError:
                raise ValueError(f"SAMLDEBUG_{f.name.upper()}: {raw!r} is not a valid {kind}") from None
        return cls(**values)  # type: ignore[arg-type]

    def limits(self) -> Limits:
        return Limits(max_input_bytes=self.max_input_bytes, max_xml_bytes=self.max_xml_bytes)
