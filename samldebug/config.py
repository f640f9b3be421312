"""Analysis settings: one frozen dataclass, passed all the way down (never a global)."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    name_id_format: str | None = None  # the NameID format the SP expects
    limits: Limits = field(default_factory=Limits)
