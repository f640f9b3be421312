"""analyze(raw, settings, now) → Report: the only orchestration.

decode → xmlsafe.parse → saml.read (unverified) → signature.verify (trusted) → checks.run → Report.
A step that cannot go on raises AnalysisStop carrying a finding; the report records it and stops there.
"""

from __future__ import annotations

import logging
from datetime import datetime

from . import checks, metadata, saml, signature, xmlsafe
from .catalog import finding
from .config import Settings
from .decode import Decoded, decode
from .model import AnalysisStop, Finding, InputInfo, Message, Report, Values

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


def analyze_xml(
    xml: bytes, settings: Settings, now: datetime, index: int = 0, source: str = "input"
) -> tuple[Message | None, list[Finding]]:
    """One decoded message → (Message, findings). Raises AnalysisStop for XML that cannot be used."""
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
        return msg, found + metadata.findings_for(info)
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
    verification = signature.verify(root, xml, settings.anchors, now, settings.limits)
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
    return msg, found


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
    try:
        decoded = decode(raw, settings.limits)
        found.extend(decoded.findings)
        msg, msg_findings = analyze_xml(decoded.xml, settings, now)
        if msg is not None:
            messages.append(msg)
            found.extend(f.at(msg.index) for f in msg_findings)
    except AnalysisStop as stop:
        found.append(stop.finding)
    except Exception:  # noqa: BLE001 - a bug must become a finding, never a stack trace for the user
        log.exception("analysis failed")
        found.append(finding("internal_error"))
    return Report(
        input=_input_info(raw, decoded),
        messages=tuple(messages),
        findings=sort_findings(found),
        now=checks.iso(now),
        skew=settings.skew,
    )
