"""analyze(raw, settings, now) → Report: the only orchestration.

decode → xmlsafe.parse → saml.read (unverified) → signature.verify (trusted) → checks.run → Report.
A step that cannot go on raises AnalysisStop carrying a finding; the report records it and stops there.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from . import capture, checklist, checks, decrypt, explain, fetch, har, metadata, redirect, saml, signature, xmlsafe
from .catalog import finding
from .certs import Anchor
from .config import Settings
from .decode import Decoded, decode
from .model import AnalysisStop, EntraError, Finding, InputInfo, Message, Report, SignatureStatus, Values
from .saml import xpath_of

log = logging.getLogger(__name__)


def sort_findings(findings: list[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: -f.severity.rank))


def _merge(unverified: Values, trusted: Values | None) -> Values:
    """The values checks use: trusted ones where the signed subtree has them, else the message's own."""
    if trusted is None:
        return unverified
    merged = dict(vars(unverified))
    merged.update((k, v) for k, v in vars(trusted).items() if v is not None and v != ())
    return Values(**merged)


def _input_info(raw: bytes, decoded: Decoded | None) -> InputInfo:
    if decoded is None:
        return InputInfo(size=len(raw), steps=())
    return InputInfo(
        size=len(raw),
        steps=decoded.steps,
        parameter=decoded.parameter,
        relay_state=decoded.relay_state,
        binding=decoded.binding,
        sig_alg=decoded.sig_alg,
    )


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


def analyze_xml(
    xml: bytes,
    settings: Settings,
    now: datetime,
    index: int = 0,
    source: str = "input",
    query: str | None = None,
    message_value: str | None = None,
) -> Analyzed:
    """One decoded message → Analyzed. Raises AnalysisStop for XML that cannot be used."""
    root = xmlsafe.parse(xml, settings.limits)
    kind = saml.kind_of(root)
    text = xml.decode("utf-8", "replace")
    if kind == "metadata":
        info = metadata.read(root, source)
        summary = metadata.summary(info, now)
        found = [finding("metadata_pasted", actual=f"EntityDescriptor entityID={info.entity_id!r}")]
        found += fetch.classify_metadata(info, None, now=now)  # certificate expiry, rollover, validUntil, kind
        if info.signed:
            status, signer, sig_notes = fetch.verify_metadata_signature(root, xml, settings.anchors)
            summary["signature"] = {"status": status, "signer": dataclasses.asdict(signer) if signer else None}
            found += sig_notes
        msg = Message(
            index=index,
            kind=kind,
            root=str(root.tag),
            signature=None,
            trusted=None,
            unverified=Values(issuer=info.entity_id),
            xml=text,
            source=source,
            evaluated_at=checks.iso(now),
            extra={"metadata": summary},
        )
        return Analyzed(msg, found)
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
    values = _merge(unverified, verification.trusted)
    ctx = checks.Context(
        kind=kind,
        root=check_root,
        values=values,
        trusted=verification.trusted is not None,
        settings=settings,
        now=now,
        signature=verification.result,
    )
    found = verification.findings + decrypt_findings + checks.run(ctx)
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
        evaluated_at=checks.iso(now),
        extra=extra,
    )
    return Analyzed(msg, found, errors)


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
    inner_findings = [f for f in inner.findings if f.code != "unsigned_assertion"]
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


def stopped(stop: Finding, size: int, settings: Settings, now: datetime) -> Report:
    """A report for an input refused before decoding (e.g. too large to read)."""
    return Report(InputInfo(size=size, steps=()), (), (stop,), checks.iso(now), settings.skew)


def analyze(
    data: bytes | str,
    settings: Settings | None = None,
    *,
    now: datetime,
    notes: tuple[Finding, ...] = (),
    entry: int | None = None,
) -> Report:
    """`notes`: findings about the trust sources (metadata, certificates) to show with the report.
    `entry`: for a capture, analyse only that entry (HAR index)."""
    settings = settings or Settings()
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    if har.looks_like_capture(raw):
        return _analyze_capture(raw, settings, now, notes, entry)
    decoded: Decoded | None = None
    messages: list[Message] = []
    found: list[Finding] = list(notes)
    errors: list[EntraError] = []
    try:
        decoded = decode(raw, settings.limits)
        found.extend(decoded.findings)
        result = analyze_xml(decoded.xml, settings, now, query=decoded.query if decoded.signature else None)
        messages.append(result.message)
        found.extend(f.at(result.message.index) for f in result.findings)
        errors.extend(result.errors)
    except AnalysisStop as stop:
        recognised = _not_a_message(raw, stop.finding) if stop.finding.code in _NOT_A_MESSAGE else None
        if recognised:
            errors.extend(recognised[0])
            found.extend(recognised[1])
        else:
            found.append(stop.finding)
    except Exception:  # noqa: BLE001 - a bug must become a finding, never a stack trace for the user
        log.exception("analysis failed")
        found.append(finding("internal_error"))
    rows = checklist.build(messages, found, errors, settings, decoded.relay_state if decoded else None)
    return Report(
        input=_input_info(raw, decoded),
        checklist=rows,
        messages=tuple(messages),
        findings=sort_findings(found),
        now=checks.iso(now),
        skew=settings.skew,
        entra_errors=tuple(errors),
    )


def _analyze_capture(
    raw: bytes, settings: Settings, now: datetime, notes: tuple[Finding, ...], entry: int | None
) -> Report:
    found: list[Finding] = list(notes)
    info: dict[str, object] | None = None
    result = None
    try:
        result = capture.analyze_capture(raw, settings, now, entry)
        found.extend(result.findings)
        info = result.info
    except AnalysisStop as stop:
        found.append(stop.finding)
    except Exception:  # noqa: BLE001 - a bug must become a finding, never a stack trace for the user
        log.exception("capture analysis failed")
        found.append(finding("internal_error"))
    messages = tuple(result.messages) if result else ()
    errors = tuple(result.errors) if result else ()
    relay = next((r for r in (result.relay_states.values() if result else ()) if r), None)
    request = next((m for m in messages if m.kind == "authn_request"), None)
    if request is not None:
        # The SP states its own entity ID and ACS URL in its request: the checklist's expectation when the user
        # gave none.
        settings = dataclasses.replace(
            settings,
            sp_entity_id=settings.sp_entity_id or request.unverified.issuer,
            acs_url=settings.acs_url or request.unverified.acs_url,
        )
    fmt = str(info.get("format")) if info else "capture"
    return Report(
        input=InputInfo(size=len(raw), steps=("capture", fmt), capture=info),
        messages=messages,
        findings=sort_findings(found),
        now=checks.iso(now),
        skew=settings.skew,
        entra_errors=errors,
        checklist=checklist.build(messages, found, errors, settings, relay),
        flows=tuple(result.flows) if result else (),
        timeline=tuple(result.timeline) if result else (),
    )


_NOT_A_MESSAGE = {"not_saml", "invalid_base64", "malformed_xml", "dtd_forbidden"}


def _not_a_message(raw: bytes, stop: Finding) -> tuple[list[EntraError], list[Finding]] | None:
    """Input that is no SAML message may still be evidence: an Entra error page, an error redirect, a token
    error JSON, text pasted from a screenshot, or an SP library's error message."""
    text = raw[: 512 * 1024].decode("utf-8", "replace")
    errors = explain.errors_in_input(text)
    found = explain.aadsts_findings(errors) + explain.library_findings(text)
    if not found:
        return None
    what = "an Entra error" if errors else "an SP library error message"
    found.append(finding("error_text_recognised", f"No SAML message, but {what} was recognised", actual=stop.title))
    return errors, found
