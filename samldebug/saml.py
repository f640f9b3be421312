"""Read-only views over a parsed SAML message: what it says, nothing verified here.

The same readers serve the whole message as received (`unverified`) and the subtree signxml returns as
signed (`trusted`), so the two can never be read differently.
"""

from __future__ import annotations

from lxml import etree

from .model import Attribute, SubjectConfirmation, Values

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS = {"saml": SAML, "samlp": SAMLP, "ds": DS, "xenc": XENC, "md": MD}

KINDS = {
    f"{{{SAMLP}}}Response": "response",
    f"{{{SAML}}}Assertion": "assertion",
    f"{{{SAMLP}}}AuthnRequest": "authn_request",
    f"{{{SAMLP}}}LogoutRequest": "logout_request",
    f"{{{SAMLP}}}LogoutResponse": "logout_response",
    f"{{{MD}}}EntityDescriptor": "metadata",
    f"{{{MD}}}EntitiesDescriptor": "metadata",
}
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"


def q(prefix: str, local: str) -> str:
    return f"{{{NS[prefix]}}}{local}"


def kind_of(root: etree._Element) -> str:
    return KINDS.get(str(root.tag), "unknown")


def text(el: etree._Element | None) -> str | None:
    """The full text of an element: every text node joined, comments skipped (so a comment cannot
    truncate a value the way DOM first-text-node helpers do)."""
    if el is None:
        return None
    return "".join(el.itertext()).strip()


def has_comment(el: etree._Element | None) -> bool:
    return el is not None and any(isinstance(c, etree._Comment) for c in el.iter(etree.Comment))


def main_assertion(root: etree._Element) -> etree._Element | None:
    """The Assertion a naive reader consumes: the root itself, else the first direct child, else the first
    anywhere (the last two differ only in wrapped documents, which the signature module reports)."""
    if root.tag == q("saml", "Assertion"):
        return root
    found = root.find("saml:Assertion", NS)
    if found is None:
        found = root.find(".//saml:Assertion", NS)
    return found


def _status(root: etree._Element) -> tuple[str | None, tuple[str, ...], str | None, str | None]:
    status = root.find("samlp:Status", NS)
    if status is None:
        return None, (), None, None
    top = status.find("samlp:StatusCode", NS)
    subs: list[str] = []
    inner = top.find("samlp:StatusCode", NS) if top is not None else None
    while inner is not None and len(subs) < 8:
        subs.append(inner.get("Value") or "")
        inner = inner.find("samlp:StatusCode", NS)
    detail = status.find("samlp:StatusDetail", NS)
    detail_text = None
    if detail is not None:
        detail_text = " ".join(t.strip() for t in detail.itertext() if t.strip()) or None
    return (
        top.get("Value") if top is not None else None,
        tuple(subs),
        text(status.find("samlp:StatusMessage", NS)),
        detail_text,
    )


def _confirmation(sc: etree._Element) -> SubjectConfirmation:
    data = sc.find("saml:SubjectConfirmationData", NS)
    get = data.get if data is not None else (lambda _k: None)
    return SubjectConfirmation(
        method=sc.get("Method"),
        recipient=get("Recipient"),
        not_before=get("NotBefore"),
        not_on_or_after=get("NotOnOrAfter"),
        in_response_to=get("InResponseTo"),
        address=get("Address"),
    )


def _attributes(assertion: etree._Element) -> tuple[Attribute, ...]:
    out = []
    for attr in assertion.iterfind("saml:AttributeStatement/saml:Attribute", NS):
        values = tuple(text(v) or "" for v in attr.iterfind("saml:AttributeValue", NS))
        out.append(
            Attribute(
                name=attr.get("Name") or "",
                friendly_name=attr.get("FriendlyName"),
                name_format=attr.get("NameFormat"),
                values=values,
            )
        )
    return tuple(out)


def _assertion_values(a: etree._Element) -> dict[str, object]:
    name_id = a.find("saml:Subject/saml:NameID", NS)
    conditions = a.find("saml:Conditions", NS)
    authn = a.find("saml:AuthnStatement", NS)
    return {
        "assertion_id": a.get("ID"),
        "assertion_issuer": text(a.find("saml:Issuer", NS)),
        "name_id": text(name_id),
        "name_id_format": name_id.get("Format") if name_id is not None else None,
        "name_id_name_qualifier": name_id.get("NameQualifier") if name_id is not None else None,
        "name_id_sp_name_qualifier": name_id.get("SPNameQualifier") if name_id is not None else None,
        "subject_confirmations": tuple(
            _confirmation(sc) for sc in a.iterfind("saml:Subject/saml:SubjectConfirmation", NS)
        ),
        "not_before": conditions.get("NotBefore") if conditions is not None else None,
        "not_on_or_after": conditions.get("NotOnOrAfter") if conditions is not None else None,
        "audiences": tuple(
            text(x) or "" for x in a.iterfind("saml:Conditions/saml:AudienceRestriction/saml:Audience", NS)
        ),
        "authn_instant": authn.get("AuthnInstant") if authn is not None else None,
        "session_index": authn.get("SessionIndex") if authn is not None else None,
        "session_not_on_or_after": authn.get("SessionNotOnOrAfter") if authn is not None else None,
        "authn_context_class": text(a.find("saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef", NS)),
        "attributes": _attributes(a),
    }


def read(root: etree._Element, *, include_assertion: bool = True) -> Values:
    """Everything the message states. For a bare Assertion, only the assertion fields are filled."""
    kind = kind_of(root)
    fields: dict[str, object] = {}
    if kind != "assertion":
        code, subs, message, detail = _status(root)
        fields.update(
            id=root.get("ID"),
            issue_instant=root.get("IssueInstant"),
            issuer=text(root.find("saml:Issuer", NS)),
            destination=root.get("Destination"),
            in_response_to=root.get("InResponseTo"),
            status_code=code,
            status_sub_codes=subs,
            status_message=message,
            status_detail=detail,
        )
    if kind == "authn_request":
        policy = root.find("samlp:NameIDPolicy", NS)
        fields.update(
            acs_url=root.get("AssertionConsumerServiceURL"),
            protocol_binding=root.get("ProtocolBinding"),
            name_id_policy_format=policy.get("Format") if policy is not None else None,
            force_authn=root.get("ForceAuthn"),
            is_passive=root.get("IsPassive"),
            requested_authn_contexts=tuple(
                text(x) or "" for x in root.iterfind("samlp:RequestedAuthnContext/saml:AuthnContextClassRef", NS)
            ),
        )
    elif kind == "logout_request":
        name_id = root.find("saml:NameID", NS)
        fields.update(
            name_id=text(name_id),
            name_id_format=name_id.get("Format") if name_id is not None else None,
            session_index=text(root.find("samlp:SessionIndex", NS)),
        )
    elif include_assertion and kind in ("response", "assertion"):
        assertion = main_assertion(root)
        if assertion is not None:
            fields.update(_assertion_values(assertion))
        if kind == "assertion":
            fields["issue_instant"] = root.get("IssueInstant")
            fields["issuer"] = fields.get("assertion_issuer")
    return Values(**fields)  # type: ignore[arg-type]


def xpath_of(el: etree._Element) -> str:
    """A readable XPath with prefixes (samlp:Response/saml:Assertion[1]/ds:Signature)."""
    parts = []
    node: etree._Element | None = el
    rev = {v: k for k, v in NS.items()}
    while node is not None:
        qn = etree.QName(node)
        prefix = rev.get(qn.namespace or "", "")
        name = f"{prefix}:{qn.localname}" if prefix else qn.localname
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))
