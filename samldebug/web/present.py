"""Report → what the templates show. No IO; everything the page needs is computed here, so templates stay
simple and the same data can be tested without a browser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree
from markupsafe import Markup, escape

from .. import catalog, xmlsafe
from ..config import Limits
from ..instants import parse_time
from ..model import Finding, Message, Report, Values
from ..report import verdict
from ..saml import NS

KIND_NAMES = {
    "response": "SAML Response",
    "assertion": "SAML Assertion",
    "authn_request": "AuthnRequest",
    "logout_request": "LogoutRequest",
    "logout_response": "LogoutResponse",
    "metadata": "Federation metadata",
    "unknown": "Unknown",
}


@dataclass(frozen=True)
class Row:
    label: str
    value: str | None
    trusted: bool


@dataclass(frozen=True)
class ClaimRow:
    label: str
    uri: str
    values: tuple[str, ...]
    required: bool
    notes: str


@dataclass(frozen=True)
class TimeBar:
    """An SVG time line: NotBefore … NotOnOrAfter as a band, the evaluation instant and the wall clock."""

    width: int
    band_x: float
    band_w: float
    eval_x: float
    now_x: float | None
    inside: bool
    labels: tuple[tuple[float, str, str], ...]  # (x, text, css class)


def _summary(m: Message) -> list[Row]:
    trusted, unverified = m.trusted, m.unverified

    def row(label: str, attr: str) -> Row | None:
        if trusted is not None and getattr(trusted, attr) not in (None, ()):
            value = getattr(trusted, attr)
            return Row(label, ", ".join(value) if isinstance(value, tuple) else value, True)
        value = getattr(unverified, attr)
        if value in (None, ()):
            return None
        return Row(label, ", ".join(value) if isinstance(value, tuple) else value, False)

    spec = [
        ("Issuer", "issuer"),
        ("Assertion Issuer", "assertion_issuer"),
        ("NameID", "name_id"),
        ("NameID format", "name_id_format"),
        ("Audience", "audiences"),
        ("Destination", "destination"),
        ("InResponseTo", "in_response_to"),
        ("Status", "status_code"),
        ("Status message", "status_message"),
        ("NotBefore", "not_before"),
        ("NotOnOrAfter", "not_on_or_after"),
        ("Session index", "session_index"),
        ("Authentication context", "authn_context_class"),
        ("ACS URL (request)", "acs_url"),
        ("Protocol binding", "protocol_binding"),
        ("NameIDPolicy format", "name_id_policy_format"),
    ]
    rows = [r for r in (row(label, attr) for label, attr in spec) if r is not None]
    values: Values = trusted or unverified
    for i, sc in enumerate(values.subject_confirmations):
        if sc.recipient:
            rows.append(Row(f"Recipient (SubjectConfirmation {i + 1})", sc.recipient, trusted is not None))
    return rows


def _claims(m: Message, required: tuple[str, ...]) -> list[ClaimRow]:
    values = m.trusted or m.unverified
    known = catalog.claims()
    rows = []
    for a in values.attributes:
        claim = known.get(a.name)
        rows.append(
            ClaimRow(
                label=claim.friendly if claim else (a.friendly_name or a.name.rsplit("/", 1)[-1]),
                uri=a.name,
                values=a.values,
                required=a.name in required,
                notes=claim.notes if claim else "",
            )
        )
    return rows


def time_bar(m: Message, wall_clock: datetime | None) -> TimeBar | None:
    values = m.trusted or m.unverified
    nb, na = parse_time(values.not_before), parse_time(values.not_on_or_after)
    at = parse_time(m.evaluated_at)
    if nb is None or na is None or at is None or na <= nb:
        return None
    points = [nb, na, at] + ([wall_clock] if wall_clock else [])
    lo, hi = min(points), max(points)
    span = (hi - lo).total_seconds() or 1.0
    width, pad = 600, 20

    def x(t: datetime) -> float:
        return round(pad + (width - 2 * pad) * (t - lo).total_seconds() / span, 1)

    now_x = x(wall_clock) if wall_clock and abs((wall_clock - at).total_seconds()) > 1 else None
    labels = [(x(nb), "NotBefore", "tb-start"), (x(na), "NotOnOrAfter", "tb-end"), (x(at), "evaluated", "tb-eval")]
    if now_x is not None:
        labels.append((now_x, "now", "tb-now"))
    return TimeBar(width, x(nb), max(x(na) - x(nb), 2.0), x(at), now_x, nb <= at < na, tuple(labels))


# --- XML view: pretty-printed, highlighted, the signed region marked --------------------------------------

_INDENT = "  "


def _name(qname: str, el: etree._Element) -> str:
    q = etree.QName(qname)
    prefix = next((p for p, uri in (el.nsmap or {}).items() if uri == q.namespace and p), None)
    return f"{prefix}:{q.localname}" if prefix else q.localname


def _render(el: etree._Element, depth: int, signed: set[int], sigs: set[int], out: list[str], state: str) -> None:
    if id(el) in signed:
        state = "signed"
    if id(el) in sigs:
        state = "sig"
    pad = _INDENT * depth
    if isinstance(el, etree._Comment):
        out.append(f'<span class="x-comment {state}">{pad}{escape(str(el))}</span>\n')
        return
    if not isinstance(el.tag, str):
        return
    name = escape(_name(el.tag, el))
    attrs = "".join(
        f' <span class="x-attr">{escape(_name(str(k), el) if str(k).startswith("{") else str(k))}</span>='
        f'<span class="x-val">"{escape(str(v))}"</span>'
        for k, v in el.attrib.items()
    )
    parent = el.getparent()
    parent_ns = parent.nsmap if parent is not None else {}
    for prefix, uri in el.nsmap.items():
        if parent_ns.get(prefix) != uri:
            key = f"xmlns:{prefix}" if prefix else "xmlns"
            attrs += f' <span class="x-ns">{escape(key)}="{escape(uri)}"</span>'
    text = (el.text or "").strip()
    children = list(el)
    open_tag = f'<span class="x-tag">&lt;{name}</span>{attrs}'
    if not children and not text:
        out.append(f'<span class="{state}">{pad}{open_tag}<span class="x-tag">/&gt;</span></span>\n')
        return
    if not children:
        out.append(
            f'<span class="{state}">{pad}{open_tag}<span class="x-tag">&gt;</span>'
            f'<span class="x-text">{escape(text)}</span><span class="x-tag">&lt;/{name}&gt;</span></span>\n'
        )
        return
    out.append(f'<span class="{state}">{pad}{open_tag}<span class="x-tag">&gt;</span></span>\n')
    if text:
        out.append(f'<span class="x-text {state}">{pad}{_INDENT}{escape(text)}</span>\n')
    for child in children:
        _render(child, depth + 1, signed, sigs, out, state)
        tail = (child.tail or "").strip()
        if tail:
            out.append(f'<span class="x-text {state}">{pad}{_INDENT}{escape(tail)}</span>\n')
    out.append(f'<span class="{state}">{pad}<span class="x-tag">&lt;/{name}&gt;</span></span>\n')


def _elements(root: etree._Element, path: str) -> list[etree._Element]:
    if not path.startswith("/"):  # e.g. a Redirect-binding signature lives in the query string, not the XML
        return []
    try:
        found = root.getroottree().xpath(path, namespaces=NS)
    except etree.XPathError:
        return []
    return [e for e in found if isinstance(e, etree._Element)] if isinstance(found, list) else []


def xml_view(m: Message, limits: Limits) -> Markup:
    """Re-parsed (safely) for display only; verification always used the bytes as received."""
    try:
        root = xmlsafe.parse(m.xml.encode("utf-8"), limits)
    except Exception:  # noqa: BLE001 - display only: fall back to the escaped raw text
        return Markup(f'<span class="x-text">{escape(m.xml)}</span>')  # noqa: S704 - escaped
    # The element proxies are kept alive in these lists: lxml reuses a live proxy for the same node, so
    # id() stays a valid identity while rendering.
    keep: list[etree._Element] = []
    sig = m.signature
    if sig is not None and sig.covers:
        keep += _elements(root, sig.covers)
    signed = {id(e) for e in keep}
    sig_els: list[etree._Element] = []
    if sig is not None:
        for info in sig.signatures:
            sig_els += _elements(root, info.where)
    sigs = {id(e) for e in sig_els}
    base = "unsigned" if signed else "plain"
    out: list[str] = []
    _render(root, 0, signed, sigs, out, base)
    return Markup("".join(out))  # noqa: S704 - every piece was escaped in _render


def findings_for(report: Report, index: int | None) -> list[Finding]:
    return [f for f in report.findings if f.message == index]


def view(report: Report, limits: Limits, wall_clock: datetime | None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    messages = []
    for m in report.messages:
        messages.append(
            {
                "m": m,
                "kind": KIND_NAMES.get(m.kind, m.kind),
                "summary": _summary(m),
                "claims": _claims(m, required),
                "time_bar": time_bar(m, wall_clock),
                "xml": xml_view(m, limits),
                "metadata": m.extra.get("metadata"),
            }
        )
    return {
        "report": report,
        "verdict": verdict(report),
        "messages": messages,
        "categories": {code: catalog.entry(code).category for code in {f.code for f in report.findings}},
    }


_TICKS = re.compile(r"`([^`]{1,2000})`")


def ticks(text: str | None) -> Markup:
    """Escape, then show `quoted values` as code (fix texts quote the exact strings to make equal)."""
    escaped = str(escape(text or ""))
    return Markup(_TICKS.sub(r"<code>\1</code>", escaped))  # noqa: S704 - built from escaped text only
