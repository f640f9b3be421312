"""Compare two sign-ins (a working and a failing user, or before and after a change): the differences that
matter, not every ID and timestamp."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta

from . import catalog, transform
from .checks.hints import name_id_source
from .instants import duration, parse_time
from .model import Message, Report, SignatureResult, Values

AUTHZ_CLAIMS = ("role", "roles", "groups", "wids", "groups.link", "memberof")


@dataclass(frozen=True)
class Difference:
    field: str
    a: str | None  # None: absent on that side
    b: str | None
    hint: str | None = None
    decisive: bool = False  # decides the outcome (status, Entra error, audience, NameID, signature, an error)


# Hints that hold for any IdP; Entra's setting names where the catalog gives them.
_HINTS = {
    "status": "One of them was refused by the IdP: its StatusMessage (for Entra an AADSTS code) says why.",
    "Entra error": "The AADSTS code names the cause and the setting to change; see the report of that side.",
    "issuer": catalog.entry("issuer_mismatch").fix,
    "audience": catalog.entry("audience_mismatch").fix,
    "NameID format": catalog.entry("name_id_format_mismatch").fix,
    "NameID source": "Attributes & Claims → Unique User Identifier (Name ID): the source attribute differs, so the"
    " SP sees another identifier for the user.",
    "signing certificate (SHA-1)": catalog.entry("cert_rolled").fix,
    "signature algorithm": catalog.entry("sha1_signature").fix,
    "signature verdict": "The signature verifies on one side only: that side's Signature section shows the"
    " certificate it was checked against, or why not.",
    "signed element": "Entra → your app → SAML Certificates → Signing Option chooses what is signed (response,"
    " assertion or both); the SP may require one of them.",
    "message kind": "The two inputs are different kinds of message: compare a response with a response.",
    "claim removed": "Entra leaves a claim out when its source attribute is empty for that user or a claim condition"
    " excludes the user: check the user's attribute and the claim's conditions under Attributes & Claims.",
}
_DECISIVE = {
    "message kind",
    "status",
    "Entra error",
    "issuer",
    "audience",
    "NameID",
    "NameID format",
    "NameID source",
    "signature verdict",
    "signed element",
    "signing certificate (SHA-1)",
}


def _message(report: Report) -> Message | None:
    return next((m for m in report.messages if m.kind in ("response", "assertion")), None) or (
        report.messages[0] if report.messages else None
    )


def _values(m: Message | None) -> Values | None:
    """Every value the message carries: the signed one where there is one, else the unverified one. (The trusted
    view holds only what the signature covers, so a Response's Status is absent from an assertion-signed
    message's trusted values: comparing those would invent differences.)"""
    if m is None:
        return None
    if m.trusted is None:
        return m.unverified
    merged = {
        f.name: getattr(m.trusted, f.name)
        if getattr(m.trusted, f.name) not in (None, ())
        else getattr(m.unverified, f.name)
        for f in fields(Values)
    }
    return Values(**merged)


def _window(v: Values) -> timedelta | None:
    nb, na = parse_time(v.not_before), parse_time(v.not_on_or_after)
    return na - nb if nb and na else None


def _claim_label(name: str) -> str:
    known = catalog.claims().get(name)
    return f"claim {known.friendly} ({name})" if known else f"claim {name}"


def _algorithm(s: SignatureResult) -> str | None:
    return (s.signatures[0].signature_method or "?").rsplit("#", 1)[-1] if s.signatures else None


def key(s: SignatureResult) -> str | None:
    """The verifying certificate, else the one the message carries (compared, never trusted)."""
    if s.key is not None:
        return s.key.sha1
    embedded = s.signatures[0].embedded_cert if s.signatures else None
    return embedded.sha1 if embedded is not None else None


def compare(a: Report, b: Report) -> list[Difference]:
    ma, mb = _message(a), _message(b)
    va, vb = _values(ma), _values(mb)
    out: list[Difference] = []

    def same(field: str, x: object, y: object, hint: str | None = None) -> None:
        x = None if x in (None, "", ()) else str(x)
        y = None if y in (None, "", ()) else str(y)
        if x != y:
            out.append(Difference(field, x, y, hint or _HINTS.get(field), field in _DECISIVE))

    ea = ", ".join(sorted({f"AADSTS{e.code}" for e in a.entra_errors}))
    eb = ", ".join(sorted({f"AADSTS{e.code}" for e in b.entra_errors}))
    same("Entra error", ea, eb)

    if ma is None or mb is None or va is None or vb is None:
        same("message kind", ma.kind if ma else None, mb.kind if mb else None)
        return out
    same("message kind", ma.kind, mb.kind)
    same(
        "status",
        " / ".join(x for x in (va.status_code, *va.status_sub_codes) if x),
        " / ".join(x for x in (vb.status_code, *vb.status_sub_codes) if x),
    )
    same("issuer", va.issuer, vb.issuer)
    same("audience", ", ".join(va.audiences), ", ".join(vb.audiences))
    same("NameID format", va.name_id_format, vb.name_id_format)
    same("NameID source", name_id_source(va), name_id_source(vb))
    if va.name_id and vb.name_id and va.name_id != vb.name_id:
        others = [x for attr in vb.attributes for x in attr.values]
        how = transform.hint(va.name_id, vb.name_id, others) or transform.hint(vb.name_id, va.name_id, others)
        if how is not None:  # the same identity in another form; two different users are expected to differ
            out.append(Difference("NameID", va.name_id, vb.name_id, how, True))
    attrs_a = {x.name: x.values for x in va.attributes}
    attrs_b = {x.name: x.values for x in vb.attributes}
    changed_values = 0
    for name in sorted(set(attrs_a) | set(attrs_b)):
        xa, xb = attrs_a.get(name), attrs_b.get(name)
        label = _claim_label(name)
        if xa is None or xb is None:
            out.append(
                Difference(
                    f"{label} {'added' if xa is None else 'removed'}",
                    ", ".join(xa) if xa is not None else None,
                    ", ".join(xb) if xb is not None else None,
                    _HINTS["claim removed"],
                )
            )
            continue
        if xa == xb:
            continue
        authz = name.rstrip("/").rsplit("/", 1)[-1].lower() in AUTHZ_CLAIMS
        empty = not any(v.strip() for v in xa) or not any(v.strip() for v in xb)
        how = transform.hint(xa[0], xb[0]) if len(xa) == len(xb) == 1 else None
        if authz:
            out.append(Difference(label, ", ".join(xa), ", ".join(xb), catalog.entry("conditional_claims_differ").fix))
        elif empty or how or len(xa) != len(xb):
            out.append(Difference(label, ", ".join(xa) or "(empty)", ", ".join(xb) or "(empty)", how))
        else:
            changed_values += 1
    if changed_values:
        out.append(
            Difference(
                f"other claim values ({changed_values} claim{'s' if changed_values != 1 else ''})",
                None,
                None,
                "The values differ, as expected for two different users; nothing to change.",
            )
        )
    sa, sb = ma.signature, mb.signature
    if sa is not None and sb is not None:
        same("signature verdict", sa.status.value, sb.status.value)
        same("signed element", ", ".join(sa.signed_elements) or "none", ", ".join(sb.signed_elements) or "none")
        same("signature algorithm", _algorithm(sa), _algorithm(sb))
        same("signing certificate (SHA-1)", key(sa), key(sb))
    wa, wb = _window(va), _window(vb)
    if wa is not None and wb is not None and wa != wb:
        out.append(
            Difference(
                "validity window length",
                duration(wa),
                duration(wb),
                "Entra's assertion lifetime differs (a token lifetime policy, another app or another IdP);"
                " it rarely decides a sign-in unless the SP's clock is off.",
            )
        )
    codes_a = {f.code for f in a.findings if f.severity.value == "error"}
    codes_b = {f.code for f in b.findings if f.severity.value == "error"}
    for code in sorted(codes_a ^ codes_b):
        entry = catalog.entry(code)
        out.append(
            Difference(
                f"error: {entry.title} ({code})",
                "present" if code in codes_a else None,
                "present" if code in codes_b else None,
                entry.fix,
                True,
            )
        )
    return sorted(out, key=lambda d: not d.decisive)  # stable: decisive first, each group in its order
