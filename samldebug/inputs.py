"""What a user gave → Settings: the one resolver. The CLI maps its flags and the web its form / JSON fields onto
`Inputs`; `resolve` does the rest the same way for both (trust sources, SP profile, operator defaults).

Documents arrive already in memory (files read, metadata URLs fetched by the shell through fetch.fetch_all):
nothing here does IO.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from . import trust
from .certs import Anchor
from .config import AppConfig, Settings
from .model import Finding
from .profiles import Profile


@dataclass(frozen=True)
class Inputs:
    sp_entity_id: str | None = None
    acs_url: str | None = None
    idp_entity_id: str | None = None
    skew: int | None = None  # None: the operator's default (AppConfig.default_skew)
    metadata: tuple[tuple[bytes, str, str | None], ...] = ()  # (document, label, the URL it came from)
    certs: tuple[tuple[bytes, str], ...] = ()  # (certificate file / text, label)
    sp_anchors: tuple[Anchor, ...] = ()
    required_claims: tuple[str, ...] = ()
    name_id_format: str | None = None
    expected_name_id: str | None = None
    profile: Profile | None = None
    decryption_keys: tuple[Any, ...] = ()  # the user's SP keys; none: the operator's (AppConfig.sp_private_key_file)
    app_id: str | None = None  # the enterprise app's Application ID (tells its sign-in log events from others')
    signing: str | None = None  # what the SP requires signed (assertion | response | both); overrides a profile's


SIGNING_CHOICES = ("assertion", "response", "both")


def profile_metadata(profile: Profile | None, *, given: bool) -> str | None:
    """The profile's metadata location (URL or file), used only when the user gave no metadata of their own."""
    if profile is None or given or not profile.metadata:
        return None
    return profile.metadata


def resolve(
    inputs: Inputs, config: AppConfig, now: datetime, operator_keys: tuple[Any, ...] = ()
) -> tuple[Settings, tuple[Finding, ...]]:
    """Settings for one analysis, and the findings about its trust sources (shown with the report)."""
    limits = config.limits()
    found = trust.collect(inputs.metadata, inputs.certs, limits, now)
    settings = Settings(
        sp_entity_id=inputs.sp_entity_id or None,
        acs_url=inputs.acs_url or None,
        idp_entity_id=inputs.idp_entity_id or None,
        skew=config.default_skew if inputs.skew is None else inputs.skew,
        limits=limits,
        required_claims=tuple(c.strip() for c in inputs.required_claims if c.strip()),
        name_id_format=inputs.name_id_format or None,
        sp_anchors=inputs.sp_anchors,
        expected_name_id=inputs.expected_name_id or None,
        app_id=(inputs.app_id or "").strip() or None,
    )
    settings = found.apply(settings)
    profile = inputs.profile
    if inputs.signing:
        if inputs.signing not in SIGNING_CHOICES:
            raise ValueError(f"signing must be one of {', '.join(SIGNING_CHOICES)}")
        given = profile if profile is not None else Profile(name="the settings given")
        profile = replace(given, signing=inputs.signing)
    if profile is not None:
        settings = profile.apply(settings)
    keys = inputs.decryption_keys or operator_keys
    if keys:
        settings = replace(settings, decryption_keys=keys)
    return settings, tuple(found.notes)
