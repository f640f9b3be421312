"""SP profiles and presets: what the service provider expects, as data.

A profile is a named set of SP settings an operator pre-configures (TOML in the instance folder). A preset is
a data file in samldebug/presets/ that derives a profile from a few parameters (balenaCloud: an SSO
identifier); adding a preset needs no code. A profile can also be built from the SP's own metadata document.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from . import certs
from .catalog import finding
from .certs import Anchor
from .config import Limits, Settings
from .decode import strip_bom
from .model import AnalysisStop, Finding
from .saml import MD, NS, kind_of
from .xmlsafe import parse

_PARAM = re.compile(r"\{([a-z_]+)\}")
_VALUE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class ProfileError(ValueError):
    pass


@dataclass(frozen=True)
class Profile:
    name: str
    sp_entity_id: str | None = None  # Entra "Identifier (Entity ID)"
    acs_url: str | None = None  # Entra "Reply URL"
    reply_urls: tuple[str, ...] = ()  # further Reply URLs configured in Entra
    sign_on_url: str | None = None
    relay_state: str | None = None
    logout_url: str | None = None
    name_id_format: str | None = None
    name_id_source: str | None = None  # the Entra source attribute the SP needs in NameID (e.g. user.mail)
    required_claims: tuple[str, ...] = ()
    signing: str | None = None  # what the SP requires signed: assertion | response | both
    require_signed_requests: bool = False
    jit_provisioning: bool = False  # the SP creates accounts on first sign-in, keyed on NameID
    # Why the NameID source must not change (e.g. the SP links existing accounts by e-mail): shown with any NameID
    # finding, and stops advice to switch the NameID to another attribute.
    name_id_note: str | None = None
    skew: int | None = None
    metadata: str | None = None  # where the IdP metadata comes from (URL or path)
    sp_certs: tuple[str, ...] = ()  # PEM texts of the SP's signing certificates
    description: str = ""
    steps_entra: tuple[str, ...] = ()
    steps_sp: tuple[str, ...] = ()

    def apply(self, settings: Settings) -> Settings:
        """Settings with this profile's expectations filled in where the caller left them empty."""
        sp_anchors = list(settings.sp_anchors)
        for i, pem in enumerate(self.sp_certs):
            sp_anchors += [Anchor(c, f"profile {self.name} SP cert #{i + 1}") for c in certs.load_certs(pem)]
        return replace(
            settings,
            sp_entity_id=settings.sp_entity_id or self.sp_entity_id,
            acs_url=settings.acs_url or self.acs_url,
            reply_urls=settings.reply_urls or self.reply_urls,
            name_id_format=settings.name_id_format or self.name_id_format,
            required_claims=settings.required_claims or self.required_claims,
            require_signed_requests=settings.require_signed_requests or self.require_signed_requests,
            sp_anchors=tuple(sp_anchors),
            skew=self.skew if self.skew is not None and settings.skew == Settings().skew else settings.skew,
            profile=self,
        )

    def basic_saml_configuration(self) -> list[tuple[str, str]]:
        """Copy-ready values for Entra's Basic SAML Configuration."""
        rows = [
            ("Identifier (Entity ID)", self.sp_entity_id),
            ("Reply URL (Assertion Consumer Service URL)", self.acs_url),
            ("Sign on URL", self.sign_on_url),
            ("Relay State", self.relay_state),
            ("Logout Url", self.logout_url),
        ]
        return [(k, v) for k, v in rows if v]


_FIELDS = {f for f in Profile.__dataclass_fields__}
_TUPLES = {"reply_urls", "required_claims", "sp_certs", "steps_entra", "steps_sp"}


def _profile(name: str, raw: dict[str, Any], where: str) -> Profile:
    unknown = set(raw) - _FIELDS
    if unknown:
        raise ProfileError(f"{where}: unknown keys {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _TUPLES:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ProfileError(f"{where}: '{key}' must be a list of strings")
            values[key] = tuple(value)
        elif key in ("require_signed_requests", "jit_provisioning"):
            if not isinstance(value, bool):
                raise ProfileError(f"{where}: '{key}' must be true or false")
            values[key] = value
        elif key == "skew":
            if not isinstance(value, int) or not 0 <= value <= 86400:
                raise ProfileError(f"{where}: 'skew' must be 0..86400 seconds")
            values[key] = value
        else:
            if not isinstance(value, str):
                raise ProfileError(f"{where}: '{key}' must be a string")
            values[key] = value
    if values.get("signing") not in (None, "assertion", "response", "both"):
        raise ProfileError(f"{where}: 'signing' must be assertion, response or both")
    values.pop("name", None)
    return Profile(name=name, **values)


def load_profiles(path: str | Path) -> dict[str, Profile]:
    """`[profiles.<name>]` tables; a missing file means no profiles."""
    p = Path(path)
    if not p.is_file():
        return {}
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{p.name}: {e}") from None
    tables = data.get("profiles", {})
    if not isinstance(tables, dict):
        raise ProfileError(f"{p.name}: [profiles] must be a table of profiles")
    return {name: _profile(name, raw, f"{p.name} [profiles.{name}]") for name, raw in tables.items()}


# --- presets ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    description: str
    parameters: tuple[str, ...]
    parameter_help: dict[str, str]
    sp: dict[str, Any]
    steps_entra: tuple[str, ...] = field(default=())
    steps_sp: tuple[str, ...] = field(default=())
    sources: tuple[str, ...] = field(default=())  # the SP vendor's pages the preset is written from

    def profile(self, **params: str) -> Profile:
        missing = [p for p in self.parameters if not params.get(p)]
        if missing:
            raise ProfileError(f"preset {self.name} needs: {', '.join(missing)}")
        for key, value in params.items():
            if not _VALUE.match(value):
                raise ProfileError(f"{key} may contain letters, digits, '.', '_' and '-' only")

        def fill(value: Any) -> Any:
            if isinstance(value, str):
                return _PARAM.sub(lambda m: params[m.group(1)], value)
            if isinstance(value, list):
                return [fill(v) for v in value]
            return value

        raw = {k: fill(v) for k, v in self.sp.items()}
        raw["steps_entra"] = list(self.steps_entra)
        raw["steps_sp"] = list(self.steps_sp)
        raw["description"] = self.description
        label = " ".join(params[p] for p in self.parameters)
        return _profile(f"{self.name} ({label})" if label else self.name, raw, f"preset {self.key}")


@cache
def presets() -> dict[str, Preset]:
    out = {}
    for item in sorted(resources.files(__package__ + ".presets").iterdir(), key=lambda r: r.name):
        if not item.name.endswith(".toml"):
            continue
        key = item.name.removesuffix(".toml")
        raw = tomllib.loads(item.read_text(encoding="utf-8"))
        params = tuple(raw.get("parameters", []))
        for p in params:
            if p not in raw.get("parameter_help", {}):
                raise ProfileError(f"preset {key}: parameter {p} needs a parameter_help entry")
        steps = raw.get("steps", {})
        preset = Preset(
            key=key,
            name=str(raw["name"]),
            description=str(raw.get("description", "")),
            parameters=params,
            parameter_help=dict(raw.get("parameter_help", {})),
            sp=dict(raw["sp"]),
            steps_entra=tuple(steps.get("entra", [])),
            steps_sp=tuple(steps.get("sp", [])),
            sources=tuple(raw.get("sources", [])),
        )
        preset.profile(**{p: "example" for p in params})  # validate the data file once, at load
        out[key] = preset
    return out


# --- a profile from the SP's own metadata -------------------------------------------------------------------


def from_sp_metadata(data: bytes, limits: Limits) -> tuple[Profile, list[Finding]]:
    root = parse(strip_bom(data), limits)
    if kind_of(root) != "metadata":
        raise AnalysisStop(finding("not_metadata", expected="the SP's md:EntityDescriptor", where="SP metadata"))
    if root.tag == f"{{{MD}}}EntitiesDescriptor":
        found = root.find(".//md:SPSSODescriptor/..", NS)
        root = found if found is not None else root
    sp = root.find("md:SPSSODescriptor", NS)
    if sp is None:
        raise AnalysisStop(
            finding(
                "not_metadata",
                "This metadata has no SPSSODescriptor",
                expected="the SP's metadata",
                actual=f"entityID {root.get('entityID')!r}",
                where="SP metadata",
            )
        )
    acs = sorted(
        sp.findall("md:AssertionConsumerService", NS),
        key=lambda e: (e.get("isDefault") != "true", int(e.get("index") or 0)),
    )
    post = [e.get("Location") or "" for e in acs if (e.get("Binding") or "").endswith("HTTP-POST")]
    formats = ["".join(str(t) for t in f.itertext()).strip() for f in sp.findall("md:NameIDFormat", NS)]
    requested = [
        ra.get("Name") or ""
        for ra in sp.iterfind("md:AttributeConsumingService/md:RequestedAttribute", NS)
        if ra.get("isRequired") == "true"
    ]
    pems: list[str] = []
    for kd in sp.findall("md:KeyDescriptor", NS):
        if kd.get("use") in (None, "signing"):
            for xc in kd.iterfind(".//ds:X509Certificate", NS):
                text = "".join((xc.text or "").split())
                pems.append(f"-----BEGIN CERTIFICATE-----\n{text}\n-----END CERTIFICATE-----\n")
    slo = sp.find("md:SingleLogoutService", NS)
    want_assertions = sp.get("WantAssertionsSigned") == "true"
    profile = Profile(
        name=f"SP metadata {root.get('entityID')}",
        sp_entity_id=root.get("entityID"),
        acs_url=post[0] if post else (acs[0].get("Location") if acs else None),
        reply_urls=tuple(e.get("Location") or "" for e in acs),
        logout_url=slo.get("Location") if slo is not None else None,
        name_id_format=formats[0] if len(formats) == 1 else None,
        required_claims=tuple(requested),
        signing="assertion" if want_assertions else None,
        require_signed_requests=sp.get("AuthnRequestsSigned") == "true",
        sp_certs=tuple(pems),
        description="Built from the SP's metadata document",
    )
    notes: list[Finding] = []
    if not post:
        notes.append(
            finding(
                "sp_metadata_no_post_acs",
                actual=", ".join((e.get("Binding") or "?").rsplit(":", 1)[-1] for e in acs) or "no ACS at all",
                where="SP metadata",
            )
        )
    return profile, notes
