"""Compare two sign-ins (a working and a failing user, or before and after a change): the differences that
matter, not every ID and timestamp."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from . import catalog, transform
from .checklist import name_id_source
from .instants import duration, parse_time
from .model import Message, Report, SignatureResult, Values

AUTHZ_CLAIMS = ("role", "roles", "groups", "wids", "groups.link", "memberof")


@dataclass(frozen=True)
class Difference:
    field: str
    a: str | None
    b: str | None
    hint: str | None = None


def _message(report: Report) -> Message | None:
    return next((m for m in report.messages if m.kind in ("response", "assertion")), None) or (
        report.messages[0] if report.messages else None
    )


def _values(m: Message | None) -> Values | None:
    return None if m is None else (m.trusted or m.unverified)


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
        if x != y:
            out.append(
                Difference(field, None if x in (None, "") else str(x), None if y in (None, "") else str(y), hint)
            )

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
            out.append(Difference("NameID", va.name_id, vb.name_id, how))
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
                    ", ".join(xa) if xa else None,
                    ", ".join(xb) if xb else None,
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
                "other claim values",
                None,
                None,
                f"{changed_values} claim(s) carry different values (expected for different users)",
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
        out.append(Difference("validity window length", duration(wa), duration(wb)))
    codes_a = {f.code for f in a.findings if f.severity.value == "error"}
    codes_b = {f.code for f in b.findings if f.severity.value == "error"}
    for code in sorted(codes_a ^ codes_b):
        out.append(
            Difference(
                f"error finding {code}",
                "present" if code in codes_a else None,
                "present" if code in codes_b else None,
                catalog.entry(code).title,
            )
        )
    return out
