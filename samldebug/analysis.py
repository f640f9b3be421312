"""One decoded message → Analyzed: safe parse, signature verdict (and decryption), the checks, AADSTS facts.

The single path every message takes, whether pasted alone (pipeline.analyze) or found in a capture
(capture.analyze_capture): the SP expectations in `settings` are final before this runs.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from lxml import etree

from . import budget, checks, decrypt, explain, metadata, redirect, saml, signature, xmlsafe
from .catalog import finding
from .certs import Anchor
from .config import Settings
from .instants import duration, iso, parse_time
from .model import AnalysisStop, EntraError, Finding, Message, SignatureStatus, Values
from .saml import xpath_of


def merge_values(unverified: Values, trusted: Values | None) -> Values:
    """The values checks use: trusted ones where the signed subtree has them, else the message's own."""
    if trusted is None:
        return unverified
    merged = dict(vars(unverified))
    merged.update((k, v) for k, v in vars(trusted).items() if v is not None and v != ())
    return Values(**merged)


@dataclass
class Analyzed:
    message: Message
    findings: list[Finding]
    errors: list[EntraError] = field(default_factory=list)


def _anchors_for(kind: str, settings: Settings) -> tuple[Anchor, ...]:
    """Who signs what: the SP signs AuthnRequests; logout messages come from either side."""
    if kind == "authn_request":
        return settings.sp_anchors
    if kind in ("logout_request", "logout_response"):
        return settings.anchors + settings.sp_anchors
    return settings.anchors


def _metadata_message(
    root: etree._Element, xml: bytes, settings: Settings, now: datetime, index: int, source: str
) -> Analyzed:
    """Pasted metadata is a message of its own: what it says, its trust-source findings, its own signature."""
    info = metadata.read(root, source)
    summary = metadata.summary(info, now)
    found = [finding("metadata_pasted", actual=f"EntityDescriptor entityID={info.entity_id!r}")]
    found += metadata.classify(info, None, now=now)  # certificate expiry, rollover, validUntil, kind
    if info.signed:
        status, signer, sig_notes = metadata.verify_signature(root, xml, settings.anchors)
        summary["signature"] = {"status": status, "signer": dataclasses.asdict(signer) if signer else None}
        found += sig_notes
    msg = Message(
        index=index,
        kind="metadata",
        root=str(root.tag),
        signature=None,
        trusted=None,
        unverified=Values(issuer=info.entity_id),
        xml=xml.decode("utf-8", "replace"),
        source=source,
        evaluated_at=iso(now),
        extra={"metadata": summary},
    )
    return Analyzed(msg, found)


def analyze_xml(
    xml: bytes,
    settings: Settings,
    now: datetime,
    index: int = 0,
    source: str = "input",
    query: str | None = None,
    message_value: str | None = None,
    at_issue: bool = False,
) -> Analyzed:
    """One decoded message → Analyzed. Raises AnalysisStop for XML that cannot be used.

    `at_issue`: no evaluation time was given, so time checks judge the message at its own IssueInstant (when
    the SP received it), and `now` (the wall clock) only says whether it has expired since."""
    root = xmlsafe.parse(xml, settings.limits)
    kind = saml.kind_of(root)
    text = xml.decode("utf-8", "replace")
    wall = now
    if at_issue and kind != "metadata":
        now = parse_time(root.get("IssueInstant")) or now
    if kind == "metadata":
        return _metadata_message(root, xml, settings, now, index, source)
    if kind == "unknown":
        raise AnalysisStop(
            finding(
                "not_saml",
                "The XML is not a SAML message",
                expected="samlp:Response, saml:Assertion, samlp:AuthnRequest, samlp:LogoutRequest/Response",
                actual=f"root element {{{root.nsmap.get(root.prefix) or ''}}}{root.tag.split('}')[-1]}"
                if isinstance(root.tag, str)
                else "no element",
            )
        )
    anchors = _anchors_for(kind, settings)
    verification = signature.verify(root, xml, anchors, now, settings.limits)
    if query is not None and verification.result.status is SignatureStatus.UNSIGNED:
        # HTTP-Redirect binding: the signature travels in the query string, not in the XML.
        redirected, redirect_findings = redirect.verify(query, anchors, now, kind, message_value)
        if redirected is not None:
            trusted = saml.read(root) if redirected.status is SignatureStatus.VALID else None
            verification = signature.Verification(redirected, redirect_findings, trusted)
    unverified = saml.read(root)
    extra: dict[str, object] = {}
    check_root = root
    decrypt_findings: list[Finding] = []
    encrypted_el = root.find("saml:EncryptedAssertion", saml.NS) if kind == "response" else None
    if encrypted_el is not None:
        outcome = _decrypt(root, encrypted_el, verification, unverified, anchors, settings, now)
        verification, unverified, check_root, extra, decrypt_findings = outcome
    values = merge_values(unverified, verification.trusted)
    ctx = checks.Context(
        kind=kind,
        root=check_root,
        values=values,
        trusted=verification.trusted is not None,
        settings=settings,
        now=now,
        signature=verification.result,
    )
    found = verification.findings + decrypt_findings
    if budget.expired():  # one CPU budget per analysis: past it, the verdict so far without the checks
        if not any(f.code == "analysis_budget_exceeded" for f in found):
            found.append(signature.budget_finding_for("the checks"))
    else:
        found += checks.run(ctx)
    if at_issue:
        found += _expired_now(values, now, wall, settings.skew)
    errors = explain.status_errors(values.status_message, values.status_detail)
    found += explain.aadsts_findings(errors, facts=_facts(values, settings))
    msg = Message(
        index=index,
        kind=kind,
        root=str(root.tag),
        signature=verification.result,
        trusted=verification.trusted,
        unverified=unverified,
        xml=text,
        source=source,
        evaluated_at=iso(now),
        extra=extra,
    )
    return Analyzed(msg, found, errors)


def _expired_now(values: Values, issued: datetime, wall: datetime, skew: int) -> list[Finding]:
    """Judged at its IssueInstant, a message pasted days later has expired by now: a note, never the cause."""
    end = parse_time(values.not_on_or_after)
    if end is None or wall < end + timedelta(seconds=skew) or issued >= end:
        return []
    return [
        finding(
            "expired_now",
            actual=f"NotOnOrAfter {iso(end)}; now {iso(wall)}, {duration(wall - issued)} after issue",
            where="saml:Conditions",
        )
    ]


def _decrypt(
    root: etree._Element,
    encrypted_el: etree._Element,
    outer: signature.Verification,
    unverified: Values,
    anchors: tuple[Anchor, ...],
    settings: Settings,
    now: datetime,
) -> tuple[signature.Verification, Values, etree._Element, dict[str, object], list[Finding]]:
    """Decrypt the EncryptedAssertion with the SP keys given, verify the assertion inside like any other, and
    combine both verdicts. Without a key (or when it fails) the outer verdict stands and what is visible is
    reported: algorithms and the recipient key identity."""
    info = decrypt.describe(encrypted_el)
    extra: dict[str, object] = {"encryption": dataclasses.asdict(info)}
    notes = decrypt.decryption_findings(info)
    if not settings.decryption_keys:
        return outer, unverified, root, extra, notes
    try:
        plaintext = decrypt.decrypt_assertion(encrypted_el, settings.decryption_keys, settings.limits)
        inner_root = xmlsafe.parse(plaintext, settings.limits)
    except decrypt.DecryptError as e:
        return outer, unverified, root, extra, notes + [e.finding]
    except AnalysisStop as stop:
        return outer, unverified, root, extra, notes + [stop.finding]
    extra["decrypted_xml"] = plaintext.decode("utf-8", "replace")
    inner = signature.verify(inner_root, plaintext, anchors, now, settings.limits)
    # Checks see the response as if the assertion had been sent in clear.
    check_root = copy.deepcopy(root)
    placeholder = check_root.find("saml:EncryptedAssertion", saml.NS)
    assert placeholder is not None
    placeholder.getparent().replace(placeholder, copy.deepcopy(inner_root))  # type: ignore[union-attr]
    inner_values = saml.read(inner_root)
    unverified = _merge_assertion(unverified, inner_values)
    notes.append(
        finding("decrypted", actual=f"{info.data_algorithm} / {info.key_transport}", where=xpath_of(encrypted_el))
    )
    o, i = outer.result, inner.result
    # Without a visible signature the outer verdict was "unverified" only because a signature could hide in the
    # ciphertext; now that the assertion is readable, the outer part is simply unsigned.
    outer_status = o.status if o.signatures else SignatureStatus.UNSIGNED
    statuses = {outer_status, i.status}
    if (
        not (o.attack or i.attack)
        and outer_status is SignatureStatus.VALID
        and "response" in o.signed_elements
        and i.status is SignatureStatus.INVALID
    ):
        # The Response signature covers the ciphertext, so what it decrypts to is signed; the assertion's own
        # signature fails. Say exactly that instead of downgrading the whole verdict (as signature.verify does for
        # a clear assertion).
        statuses = {SignatureStatus.VALID}
        failed = next((s for s in i.signatures if not s.verified), None)
        notes.append(
            finding(
                "assertion_signature_invalid",
                expected="the decrypted Assertion's own signature verifies too (SPs that require a signed assertion)",
                actual=f"{(failed.error if failed else None) or 'it does not verify'}; the Response signature "
                "verifies and covers the EncryptedAssertion",
                where=failed.where if failed else xpath_of(encrypted_el),
            )
        )
    if o.attack or i.attack or SignatureStatus.INVALID in statuses:
        status = SignatureStatus.INVALID
    elif SignatureStatus.VALID in statuses and SignatureStatus.UNVERIFIED not in statuses:
        status = SignatureStatus.VALID
    elif SignatureStatus.UNVERIFIED in statuses:
        status = SignatureStatus.UNVERIFIED
    else:
        status = SignatureStatus.UNSIGNED
    trusted: Values | None = None
    if status is SignatureStatus.VALID:
        if "response" in o.signed_elements and outer.trusted is not None:
            # The Response signature covers the ciphertext; the assertion is what that ciphertext decrypts to.
            signed_assertion = inner.trusted if inner.trusted is not None else inner_values
            trusted = _merge_assertion(outer.trusted, signed_assertion)
        elif inner.trusted is not None:
            trusted = inner.trusted
    elements = tuple(dict.fromkeys(o.signed_elements + i.signed_elements)) if status is SignatureStatus.VALID else ()
    result = dataclasses.replace(
        o,
        status=status,
        signed_elements=elements,
        key=o.key or i.key,
        signatures=o.signatures + i.signatures,
        attack=o.attack or i.attack,
        covers=o.covers or (xpath_of(encrypted_el) if i.covers else None),
    )
    outer_codes = {f.code for f in outer.findings}
    inner_findings = [
        f
        for f in inner.findings
        if f.code != "unsigned_assertion" and not (f.code == "weak_signing_key" and f.code in outer_codes)
    ]
    combined = signature.Verification(result, outer.findings + inner_findings, trusted)
    return combined, unverified, check_root, extra, notes


_ASSERTION_FIELDS = (
    "assertion_id assertion_issuer name_id name_id_format name_id_name_qualifier name_id_sp_name_qualifier "
    "subject_confirmations not_before not_on_or_after audiences authn_instant session_index "
    "session_not_on_or_after authn_context_class attributes"
).split()


def _merge_assertion(response: Values, assertion: Values) -> Values:
    return dataclasses.replace(response, **{f: getattr(assertion, f) for f in _ASSERTION_FIELDS})


def _facts(values: Values, settings: Settings) -> dict[str, str]:
    """Values a catalog fix can quote (e.g. the ACS URL sent vs the Reply URL configured)."""
    facts = {
        "acs_url": values.acs_url or values.destination,
        "reply_urls": settings.acs_url,
        "issuer": values.issuer if values.acs_url else None,
        "identifier": settings.sp_entity_id,
    }
    return {k: v for k, v in facts.items() if v}
