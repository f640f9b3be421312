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
    if len(el) == 0:  # no children (comments are children): the text node is the whole value
        return (el.text or "").strip()
    return "".join(str(t) for t in el.itertext()).strip()


def has_comment(el: etree._Element | None) -> bool:
    # A comment is a child node: an element without children (the usual value) has none, and lxml's walk is skipped.
    return el is not None and len(el) > 0 and any(isinstance(c, etree._Comment) for c in el.iter(etree.Comment))


def child(el: etree._Element | None, *path: str) -> etree._Element | None:
    """Descend direct children by Clark tag; C-level iteration (ElementPath with a prefix map costs
    ~5 µs a call, and a message is read twice)."""
    for tag in path:
        if el is None:
            return None
        el = next(el.iterchildren(tag), None)
    return el


def children(el: etree._Element | None, tag: str) -> list[etree._Element]:
    return [] if el is None else list(el.iterchildren(tag))


def _t(*path: str) -> tuple[str, ...]:
    return tuple(q(*p.split(":")) for p in path)


ASSERTION = q("saml", "Assertion")
ENCRYPTED_ASSERTION = q("saml", "EncryptedAssertion")
ISSUER = q("saml", "Issuer")
SUBJECT = q("saml", "Subject")
NAME_ID = q("saml", "NameID")
SUBJECT_CONFIRMATION = q("saml", "SubjectConfirmation")
SUBJECT_CONFIRMATION_DATA = q("saml", "SubjectConfirmationData")
CONDITIONS = q("saml", "Conditions")
AUDIENCE_RESTRICTION = q("saml", "AudienceRestriction")
AUDIENCE = q("saml", "Audience")
AUTHN_STATEMENT = q("saml", "AuthnStatement")
AUTHN_CONTEXT_CLASS = _t("saml:AuthnContext", "saml:AuthnContextClassRef")
AUTHN_CONTEXT_CLASS_REF = q("saml", "AuthnContextClassRef")
STATUS = q("samlp", "Status")
STATUS_CODE = q("samlp", "StatusCode")
STATUS_MESSAGE = q("samlp", "StatusMessage")
STATUS_DETAIL = q("samlp", "StatusDetail")


def main_assertion(root: etree._Element) -> etree._Element | None:
    """The Assertion a naive reader consumes: the root itself, else the first direct child, else the first
    anywhere (the last two differ only in wrapped documents, which the signature module reports)."""
    if root.tag == ASSERTION:
        return root
    found = child(root, ASSERTION)
    if found is None:
        found = next(root.iter(ASSERTION), None)
    return found


def _status(root: etree._Element) -> tuple[str | None, tuple[str, ...], str | None, str | None]:
    status = child(root, STATUS)
    if status is None:
        return None, (), None, None
    top = child(status, STATUS_CODE)
    subs: list[str] = []
    inner = child(top, STATUS_CODE)
    while inner is not None and len(subs) < 8:
        subs.append(inner.get("Value") or "")
        inner = child(inner, STATUS_CODE)
    detail = child(status, STATUS_DETAIL)
    detail_text = None
    if detail is not None:
        detail_text = " ".join(str(t).strip() for t in detail.itertext() if str(t).strip()) or None
    return (
        top.get("Value") if top is not None else None,
        tuple(subs),
        text(child(status, STATUS_MESSAGE)),
        detail_text,
    )


def _confirmation(sc: etree._Element) -> SubjectConfirmation:
    data = child(sc, SUBJECT_CONFIRMATION_DATA)
    get = data.get if data is not None else (lambda _k: None)
    return SubjectConfirmation(
        method=sc.get("Method"),
        recipient=get("Recipient"),
        not_before=get("NotBefore"),
        not_on_or_after=get("NotOnOrAfter"),
        in_response_to=get("InResponseTo"),
        address=get("Address"),
    )


_ATTRIBUTE_STATEMENT = q("saml", "AttributeStatement")
_ATTRIBUTE = q("saml", "Attribute")
_ATTRIBUTE_VALUE = q("saml", "AttributeValue")


def _attributes(assertion: etree._Element) -> tuple[Attribute, ...]:
    out = []
    for statement in assertion.iterchildren(_ATTRIBUTE_STATEMENT):
        for attr in statement.iterchildren(_ATTRIBUTE):
            values = tuple(
                (v.text or "").strip() if len(v) == 0 else (text(v) or "") for v in attr.iterchildren(_ATTRIBUTE_VALUE)
            )
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
    subject = child(a, SUBJECT)
    name_id = child(subject, NAME_ID)
    conditions = child(a, CONDITIONS)
    authn = child(a, AUTHN_STATEMENT)
    audiences = [text(x) or "" for r in children(conditions, AUDIENCE_RESTRICTION) for x in r.iterchildren(AUDIENCE)]
    return {
        "assertion_id": a.get("ID"),
        "assertion_issuer": text(child(a, ISSUER)),
        "name_id": text(name_id),
        "name_id_format": name_id.get("Format") if name_id is not None else None,
        "name_id_name_qualifier": name_id.get("NameQualifier") if name_id is not None else None,
        "name_id_sp_name_qualifier": name_id.get("SPNameQualifier") if name_id is not None else None,
        "subject_confirmations": tuple(_confirmation(sc) for sc in children(subject, SUBJECT_CONFIRMATION)),
        "not_before": conditions.get("NotBefore") if conditions is not None else None,
        "not_on_or_after": conditions.get("NotOnOrAfter") if conditions is not None else None,
        "audiences": tuple(audiences),
        "authn_instant": authn.get("AuthnInstant") if authn is not None else None,
        "session_index": authn.get("SessionIndex") if authn is not None else None,
        "session_not_on_or_after": authn.get("SessionNotOnOrAfter") if authn is not None else None,
        "authn_context_class": text(child(authn, *AUTHN_CONTEXT_CLASS)),
        "attributes": _attributes(a),
    }


def read(root: etree._Element, *, include_assertion: bool = True, part_of_message: bool = False) -> Values:
    """Everything the message states. For a bare Assertion, only the assertion fields are filled, and its
    IssueInstant and Issuer stand for the message's unless it is `part_of_message` (the signed Assertion of a
    Response whose own ID, IssueInstant and Issuer are not signed: those stay None)."""
    kind = kind_of(root)
    fields: dict[str, object] = {}
    if kind != "assertion":
        code, subs, message, detail = _status(root)
        fields.update(
            id=root.get("ID"),
            issue_instant=root.get("IssueInstant"),
            issuer=text(child(root, ISSUER)),
            destination=root.get("Destination"),
            in_response_to=root.get("InResponseTo"),
            status_code=code,
            status_sub_codes=subs,
            status_message=message,
            status_detail=detail,
        )
    if kind == "authn_request":
        policy = child(root, q("samlp", "NameIDPolicy"))
        fields.update(
            acs_url=root.get("AssertionConsumerServiceURL"),
            protocol_binding=root.get("ProtocolBinding"),
            name_id_policy_format=policy.get("Format") if policy is not None else None,
            force_authn=root.get("ForceAuthn"),
            is_passive=root.get("IsPassive"),
            requested_authn_contexts=tuple(
                text(x) or ""
                for x in children(child(root, q("samlp", "RequestedAuthnContext")), AUTHN_CONTEXT_CLASS_REF)
            ),
        )
    elif kind == "logout_request":
        name_id = child(root, NAME_ID)
        fields.update(
            name_id=text(name_id),
            name_id_format=name_id.get("Format") if name_id is not None else None,
            session_index=text(child(root, q("samlp", "SessionIndex"))),
        )
    elif include_assertion and kind in ("response", "assertion"):
        assertion = main_assertion(root)
        if assertion is not None:
            fields.update(_assertion_values(assertion))
        if kind == "assertion" and not part_of_message:
            fields["issue_instant"] = root.get("IssueInstant")
            fields["issuer"] = fields.get("assertion_issuer")
    return Values(**fields)  # type: ignore[arg-type]


_PREFIXES = {v: k for k, v in NS.items()}


def xpath_of(el: etree._Element) -> str:
    """A readable XPath with prefixes (samlp:Response/saml:Assertion[1]/ds:Signature)."""
    parts = []
    node: etree._Element | None = el
    while node is not None:
        tag = str(node.tag)
        namespace, _, local = tag[1:].rpartition("}") if tag[:1] == "{" else ("", "", tag)
        prefix = _PREFIXES.get(namespace, "")
        name = f"{prefix}:{local}" if prefix else local
        parent = node.getparent()
        if parent is not None:
            same = list(parent.iterchildren(node.tag))
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))
