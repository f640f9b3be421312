"""analyze(raw, settings, now) → Report: the only orchestration.

decode → xmlsafe.parse → saml.read (unverified) → signature.verify (trusted) → checks.run → Report.
A step that cannot go on raises AnalysisStop carrying a finding; the report records it and stops there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from . import checklist, checks, explain, metadata, redirect, saml, signature, xmlsafe
from .catalog import finding
from .certs import Anchor
from .config import Settings
from .decode import Decoded, decode
from .model import AnalysisStop, EntraError, Finding, InputInfo, Message, Report, SignatureStatus, Values

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
) -> Analyzed:
    """One decoded message → Analyzed. Raises AnalysisStop for XML that cannot be used."""
    root = xmlsafe.parse(xml, settings.limits)
    kind = saml.kind_of(root)
    text = xml.decode("utf-8", "replace")
    if kind == "metadata":
        info = metadata.read(root, source)
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
            extra={"metadata": metadata.summary(info, now)},
        )
        found = [finding("metadata_pasted", actual=f"EntityDescriptor entityID={info.entity_id!r}")]
        return Analyzed(msg, found + metadata.findings_for(info))
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
        redirected, redirect_findings = redirect.verify(query, anchors, now, kind)
        if redirected is not None:
            trusted = saml.read(root) if redirected.status is SignatureStatus.VALID else None
            verification = signature.Verification(redirected, redirect_findings, trusted)
    unverified = saml.read(root)
    values = _merge(unverified, verification.trusted)
    ctx = checks.Context(
        kind=kind,
        root=root,
        values=values,
        trusted=verification.trusted is not None,
        settings=settings,
        now=now,
        signature=verification.result,
    )
    found = verification.findings + checks.run(ctx)
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
    )
    return Analyzed(msg, found, errors)


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
) -> Report:
    """`notes`: findings about the trust sources (metadata, certificates) to show with the report."""
    settings = settings or Settings()
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
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
