"""Encrypted assertions: the real corpus decrypts with the SP keys beside it, generated fixtures of
every supported algorithm round-trip, and every failure says precisely why without echoing key or plaintext."""

from __future__ import annotations

import base64
import dataclasses
import os
import re
import warnings
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs12
from factory import DS, SAML, SAMLP, KeyPair, ResponseSpec, build_assertion, idp_key, make_keypair, sign
from helpers import corpus_manifest
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier  # type: ignore[attr-defined]
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.verifier import VerifyResult

from samldebug import xmlsafe
from samldebug.config import Limits
from samldebug.decrypt import (
    WEAK_CBC,
    WEAK_RSA_1_5,
    DecryptError,
    EncryptionInfo,
    decrypt_assertion,
    decryption_findings,
    describe,
    load_private_keys,
)
from samldebug.model import Severity

XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
LIMITS = Limits()
MANIFEST: list[dict[str, object]] = corpus_manifest()


# --- the corpus ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    file: str
    key: str
    data_algorithm: str
    key_transport: str
    name_id: str | None = None


CASES = [
    Case(
        "peers/python3-saml/signed_encrypted_assertion.xml.base64",
        "peers/python3-saml/sp_key.pem",
        XENC + "aes128-cbc",
        XENC + "rsa-1_5",
    ),
    Case(
        "peers/python3-saml/double_signed_encrypted_assertion.xml.base64",
        "peers/python3-saml/sp_key.pem",
        XENC + "aes128-cbc",
        XENC + "rsa-1_5",
    ),
    Case(
        "peers/python3-saml/valid_encrypted_assertion.xml.base64",
        "peers/python3-saml/sp_key.pem",
        XENC + "aes128-cbc",
        XENC + "rsa-1_5",
        name_id="_68392312d490db6d355555cfbbd8ec95d746516f60",  # manifest notes
    ),
    Case(
        "peers/python3-saml/signed_message_response2.xml.base64",
        "peers/python3-saml/sp_key.pem",
        XENC + "aes128-cbc",
        XENC + "rsa-oaep-mgf1p",
    ),
    Case(
        "peers/crewjam-saml/okta_signed_response_encrypted_assertion.xml.base64",
        "peers/crewjam-saml/sp_key.pem",
        XENC + "aes256-cbc",
        XENC + "rsa-oaep-mgf1p",
        name_id="testuser@testrsc.com",  # manifest why_expected
    ),
    Case(
        "peers/ruby-saml/unsigned_message_aes256gcm_encrypted_signed_assertion.xml.base64",
        "peers/ruby-saml/ruby-saml_sp_key.pem",
        XENC11 + "aes256-gcm",
        XENC + "rsa-oaep-mgf1p",
        name_id="_ce3d2948b4cf20146dee0a0b3dd6f69b6cf86f62d7",  # manifest why_expected
    ),
]


def manifest(file: str) -> dict[str, object]:
    entry = next((e for e in MANIFEST if e["file"] == file), None)
    assert entry is not None, f"{file} is not in the corpus manifest"
    expected = entry["expected"]
    assert isinstance(expected, dict)
    return expected


def encrypted_assertion(root: etree._Element) -> etree._Element:
    found = root.find(f".//{{{SAML}}}EncryptedAssertion")
    assert found is not None
    return found


def corpus_ea(corpus: Path, file: str) -> etree._Element:
    return encrypted_assertion(xmlsafe.parse(base64.b64decode((corpus / file).read_bytes()), LIMITS))


def corpus_keys(corpus: Path, file: str) -> list[rsa.RSAPrivateKey]:
    return load_private_keys((corpus / file).read_bytes())


def load_cert(path: Path) -> x509.Certificate:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some upstream certificates carry negative serial numbers
        return x509.load_pem_x509_certificate(path.read_bytes())


def name_id(assertion: etree._Element) -> str | None:
    el = assertion.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID")
    return el.text if el is not None else None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.file.split("/", 1)[1])
def test_corpus_decrypts_with_the_sp_key_beside_it(corpus: Path, case: Case) -> None:
    notes = str(manifest(case.file)["notes"])
    assert Path(case.key).name in notes, "the manifest names the key that decrypts this file"
    ea = corpus_ea(corpus, case.file)
    info = describe(ea)
    assert (info.data_algorithm, info.key_transport) == (case.data_algorithm, case.key_transport)

    xml = decrypt_assertion(ea, corpus_keys(corpus, case.key), LIMITS)
    assertion = xmlsafe.parse(xml, LIMITS)  # stands on its own
    assert assertion.tag == f"{{{SAML}}}Assertion"
    if case.name_id is not None:
        assert name_id(assertion) == case.name_id


def _verify(xml: bytes, cert: x509.Certificate) -> etree._Element:
    """signxml on the decrypted bytes as a standalone document, as signature.py does it."""
    config = SignatureConfiguration(
        location="./",
        expect_references=1,
        signature_methods=frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.RSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA1, DigestAlgorithm.SHA256}),
        verification_time=cert.not_valid_before_utc + timedelta(days=1),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = XMLVerifier().verify(xml, x509_cert=cert, parser=xmlsafe.make_parser(), expect_config=config)
    assert isinstance(result, VerifyResult)
    signed = result.signed_xml
    assert signed is not None
    return signed


def _expected(file: str) -> dict[str, object]:
    """The manifest's expectations, {} when the corpus is missing (the `corpus` fixture then fails the test)."""
    entry: dict[str, object] = next((e for e in MANIFEST if e["file"] == file), {"expected": {}})
    expected = entry["expected"]
    assert isinstance(expected, dict)
    return expected


# The manifest says the assertion inside is signed and names the certificate to check it with.
SIGNED_INSIDE = [
    c
    for c in CASES
    if _expected(c.file).get("signed_element") in ("assertion", "both") and _expected(c.file).get("verification_cert")
]


@pytest.mark.parametrize("case", SIGNED_INSIDE, ids=lambda c: c.file)
def test_decrypted_signed_assertion_verifies_standalone_with_the_manifest_cert(corpus: Path, case: Case) -> None:
    expected = manifest(case.file)
    assert expected["signature"] == "valid"
    cert = load_cert(corpus / str(expected["verification_cert"]))
    xml = decrypt_assertion(corpus_ea(corpus, case.file), corpus_keys(corpus, case.key), LIMITS)
    signed = _verify(xml, cert)
    assert signed.tag == f"{{{SAML}}}Assertion"
    assert signed.get("ID") == xmlsafe.parse(xml, LIMITS).get("ID")


def test_ruby_saml_gcm_assertion_signature_holds_after_decryption(corpus: Path) -> None:
    """The manifest names no verification cert for this file (the peer test does not verify it), so the
    certificate embedded in the signature is used: not trust, but proof that decryption (GCM here) and the
    namespace re-declaration left the signed bytes intact."""
    case = next(c for c in CASES if "aes256gcm" in c.file)
    assert manifest(case.file)["signed_element"] == "assertion"
    xml = decrypt_assertion(corpus_ea(corpus, case.file), corpus_keys(corpus, case.key), LIMITS)
    el = xmlsafe.parse(xml, LIMITS).find(f"{{{DS}}}Signature/{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    assert el is not None and el.text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        embedded = x509.load_der_x509_certificate(base64.b64decode("".join(el.text.split())))
    assert _verify(xml, embedded).get("ID") == "pfxf567515e-4de9-2b7e-3b9d-e4f331aed11a"


def test_every_encrypted_corpus_response_is_covered() -> None:
    """Keep CASES honest: each corpus response holding an EncryptedAssertion that the manifest says a key
    decrypts is tested above (the XSW file is an attack fixture, checked separately below)."""
    encrypted = {
        str(e["file"])
        for e in MANIFEST
        if e["kind"] == "response" and "decrypt with" in str(e["expected"]["notes"]).lower()  # type: ignore[index]
    }
    assert encrypted - {c.file for c in CASES} == {"peers/ruby-saml/xsw_encrypted_new_attack.xml.base64"}


def test_xsw_encrypted_attack_decrypts_its_triple_des_assertion(corpus: Path) -> None:
    ea = corpus_ea(corpus, "peers/ruby-saml/xsw_encrypted_new_attack.xml.base64")
    info = describe(ea)
    assert info.data_algorithm == XENC + "tripledes-cbc"
    assert "Triple-DES" in " ".join(info.weak)
    xml = decrypt_assertion(ea, corpus_keys(corpus, "peers/ruby-saml/ruby-saml_sp_key.pem"), LIMITS)
    # The plaintext uses the saml prefix declared only on the Response: it parses only thanks to re-declaration.
    assert xmlsafe.parse(xml, LIMITS).get("ID") == "pfx57ea3408-3a1e-9b65-61f9-04720287e6fe"


@pytest.mark.parametrize(
    "file, key",
    [
        ("peers/python3-saml/signed_encrypted_assertion.xml.base64", "peers/crewjam-saml/sp_key.pem"),  # rsa-1_5
        ("peers/python3-saml/signed_message_response2.xml.base64", "peers/ruby-saml/ruby-saml_sp_key.pem"),  # OAEP
        (
            "peers/ruby-saml/unsigned_message_aes256gcm_encrypted_signed_assertion.xml.base64",
            "peers/python3-saml/sp_key.pem",
        ),
    ],
)
def test_wrong_corpus_key_is_named_as_such(corpus: Path, file: str, key: str) -> None:
    data = (corpus / key).read_bytes()
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(corpus_ea(corpus, file), load_private_keys(data), LIMITS)
    f = err.value.finding
    assert f.code == "decrypt_wrong_key" and f.severity is Severity.ERROR
    assert "RSA decryption of the EncryptedKey failed" in (f.actual or "")
    assert_no_secret(err.value, data)


def test_wrong_key_names_the_certificate_the_encrypted_key_asks_for(corpus: Path) -> None:
    sp_cert = load_cert(corpus / "peers/crewjam-saml/sp_cert.pem")
    thumb = sp_cert.fingerprint(hashes.SHA1()).hex().upper()
    ea = corpus_ea(corpus, "peers/crewjam-saml/okta_signed_response_encrypted_assertion.xml.base64")
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, corpus_keys(corpus, "peers/python3-saml/sp_key.pem"), LIMITS)
    assert err.value.finding.code == "decrypt_wrong_key"
    assert thumb in (err.value.finding.expected or "")


def test_without_a_key_the_encryption_is_still_described(corpus: Path) -> None:
    okta = describe(corpus_ea(corpus, "peers/crewjam-saml/okta_signed_response_encrypted_assertion.xml.base64"))
    sp_cert = load_cert(corpus / "peers/crewjam-saml/sp_cert.pem")
    assert okta.data_algorithm == XENC + "aes256-cbc"
    assert okta.key_transport == XENC + "rsa-oaep-mgf1p"
    assert okta.oaep_digest == "http://www.w3.org/2000/09/xmldsig#sha1"  # written as DigestMethod
    assert okta.recipient_cert_sha1 == sp_cert.fingerprint(hashes.SHA1()).hex().upper()
    assert okta.key_name is not None and "CN=localhost" in okta.key_name and okta.recipient_cert_sha1 in okta.key_name
    assert okta.weak == (WEAK_CBC,)

    gcm = describe(corpus_ea(corpus, CASES[-1].file))
    assert gcm.weak == () and gcm.oaep_digest == "http://www.w3.org/2000/09/xmldsig#sha1"  # the OAEP default

    ea = corpus_ea(corpus, CASES[0].file)
    v15 = describe(ea)
    assert v15.oaep_digest is None and v15.key_name is None and v15.recipient_cert_sha1 is None
    assert v15.weak == (WEAK_CBC, WEAK_RSA_1_5)
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [], LIMITS)
    assert err.value.finding.code == "encrypted"
    assert "no SP private key" in err.value.finding.title


def test_weak_findings_for_the_corpus(corpus: Path) -> None:
    v15 = decryption_findings(describe(corpus_ea(corpus, CASES[0].file)))
    assert {f.code for f in v15} == {"weak_data_encryption", "weak_key_transport"}
    assert all(f.severity is Severity.WARNING for f in v15)
    okta = decryption_findings(describe(corpus_ea(corpus, CASES[4].file)))
    assert [f.code for f in okta] == ["weak_data_encryption"] and "aes256-cbc" in (okta[0].actual or "")
    assert decryption_findings(describe(corpus_ea(corpus, CASES[-1].file))) == []


# --- generated fixtures ----------------------------------------------------------------------------------------


@cache
def sp() -> KeyPair:
    return make_keypair(cn="sp.example.com encryption")


@cache
def other_sp() -> KeyPair:
    return make_keypair(cn="another SP")


DATA = {
    "aes128-cbc": (XENC + "aes128-cbc", 16),
    "aes192-cbc": (XENC + "aes192-cbc", 24),
    "aes256-cbc": (XENC + "aes256-cbc", 32),
    "tripledes-cbc": (XENC + "tripledes-cbc", 24),
    "aes128-gcm": (XENC11 + "aes128-gcm", 16),
    "aes192-gcm": (XENC11 + "aes192-gcm", 24),
    "aes256-gcm": (XENC11 + "aes256-gcm", 32),
}
DIGEST_URIS = {
    "sha1": "http://www.w3.org/2000/09/xmldsig#sha1",
    "sha256": XENC + "sha256",
    "sha512": XENC + "sha512",
}
HASHES: dict[str, hashes.HashAlgorithm] = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha512": hashes.SHA512()}


@dataclass(frozen=True)
class Enc:
    data: str = "aes256-gcm"
    transport: str = "rsa-oaep-mgf1p"  # rsa-oaep-mgf1p | rsa-oaep (xmlenc11) | rsa-1_5
    digest: str | None = None  # DigestMethod written (None: not written, the default SHA-1 applies)
    mgf: str | None = None  # xmlenc11 MGF hash (only with rsa-oaep)
    shape: str = "inline"  # inline | retrieval (crewjam/Okta) | sibling (ReferenceList only)
    with_cert: bool = False  # the SP certificate in EncryptedKey/KeyInfo
    recipient: str | None = None


def _cbc_encrypt(plain: bytes, key: bytes, block: int, pad_byte: int | None = None) -> bytes:
    n = block - len(plain) % block
    padded = plain + os.urandom(n - 1) + bytes([n if pad_byte is None else pad_byte])  # XML-Enc padding
    iv = os.urandom(block)
    cipher = algorithms.AES(key) if block == 16 else TripleDES(key)
    encryptor = Cipher(cipher, modes.CBC(iv)).encryptor()
    return iv + encryptor.update(padded) + encryptor.finalize()


def _wrap(session: bytes, kp: KeyPair, enc: Enc) -> bytes:
    public = kp.key.public_key()
    if enc.transport == "rsa-1_5":
        return public.encrypt(session, padding.PKCS1v15())
    digest = HASHES[enc.digest or "sha1"]
    mgf = hashes.SHA1() if enc.transport == "rsa-oaep-mgf1p" else HASHES[enc.mgf or "sha1"]
    return public.encrypt(session, padding.OAEP(mgf=padding.MGF1(mgf), algorithm=digest, label=None))


def _sub(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    el.text = text
    return el


def encrypted_key(session: bytes, kp: KeyPair, enc: Enc, parent: etree._Element, ek_id: str | None = None) -> None:
    ek = _sub(parent, XENC, "EncryptedKey", **({"Id": ek_id} if ek_id else {}))
    if enc.recipient:
        ek.set("Recipient", enc.recipient)
    uri = XENC11 + "rsa-oaep" if enc.transport == "rsa-oaep" else XENC + enc.transport
    method = _sub(ek, XENC, "EncryptionMethod", Algorithm=uri)
    if enc.digest:
        _sub(method, DS, "DigestMethod", Algorithm=DIGEST_URIS[enc.digest])
    if enc.mgf:
        _sub(method, XENC11, "MGF", Algorithm=XENC11 + "mgf1" + enc.mgf)
    if enc.with_cert:
        der = kp.cert.public_bytes(serialization.Encoding.DER)
        x509_data = _sub(_sub(ek, DS, "KeyInfo"), DS, "X509Data")
        _sub(x509_data, DS, "X509Certificate", base64.b64encode(der).decode())
    _sub(_sub(ek, XENC, "CipherData"), XENC, "CipherValue", base64.b64encode(_wrap(session, kp, enc)).decode())
    if enc.shape == "sibling":
        _sub(_sub(ek, XENC, "ReferenceList"), XENC, "DataReference", URI="#_ed1")


def encrypt(
    plain: bytes,
    enc: Enc = Enc(),
    kp: KeyPair | None = None,
    pad_byte: int | None = None,
    extra_keys: tuple[KeyPair, ...] = (),
) -> etree._Element:
    """A samlp:Response holding `plain` (assertion XML bytes) as an EncryptedAssertion, built with
    cryptography the way xmlsec / Okta lay it out. Returns the EncryptedAssertion element (in its Response)."""
    kp = kp or sp()
    uri, size = DATA[enc.data]
    session = os.urandom(size)
    if enc.data.endswith("gcm"):
        iv = os.urandom(12)
        blob = iv + AESGCM(session).encrypt(iv, plain, None)
    else:
        blob = _cbc_encrypt(plain, session, 8 if enc.data.startswith("tripledes") else 16, pad_byte)
    response = etree.Element(f"{{{SAMLP}}}Response", nsmap={"samlp": SAMLP, "saml": SAML})
    ea = _sub(response, SAML, "EncryptedAssertion")
    data = etree.SubElement(
        ea, f"{{{XENC}}}EncryptedData", {"Id": "_ed1", "Type": XENC + "Element"}, nsmap={"xenc": XENC, "ds": DS}
    )
    _sub(data, XENC, "EncryptionMethod", Algorithm=uri)
    key_info = _sub(data, DS, "KeyInfo")
    if enc.shape == "inline":
        for other in extra_keys:  # addressed to other recipients first: every EncryptedKey must be tried
            encrypted_key(session, other, enc, key_info)
        encrypted_key(session, kp, enc, key_info)
    elif enc.shape == "retrieval":
        _sub(key_info, DS, "RetrievalMethod", Type=XENC + "EncryptedKey", URI="#_ek1")
    _sub(_sub(data, XENC, "CipherData"), XENC, "CipherValue", base64.b64encode(blob).decode())
    if enc.shape != "inline":
        for i, other in enumerate(extra_keys):
            encrypted_key(session, other, enc, ea, f"_other{i}")
        encrypted_key(session, kp, enc, ea, "_ek1")
    # Round-trip through bytes and the hardened parser: what the pipeline hands over.
    return encrypted_assertion(xmlsafe.parse(etree.tostring(response), LIMITS))


def assertion_bytes(spec: ResponseSpec | None = None) -> bytes:
    return etree.tostring(build_assertion(spec or ResponseSpec()))


def exc_c14n(xml: bytes) -> bytes:
    return etree.tostring(xmlsafe.parse(xml, LIMITS), method="c14n", exclusive=True)


ROUND_TRIPS = [
    Enc("aes128-cbc", "rsa-oaep-mgf1p"),  # OAEP-SHA1, DigestMethod absent
    Enc("aes192-cbc", "rsa-oaep-mgf1p", digest="sha1", shape="retrieval", with_cert=True),  # Okta shape
    Enc("aes256-cbc", "rsa-oaep-mgf1p", digest="sha256", shape="sibling"),  # OAEP-SHA256, MGF1-SHA1
    Enc("aes128-gcm", "rsa-oaep", digest="sha256", mgf="sha256"),  # xmlenc11 OAEP-SHA256
    Enc("aes192-gcm", "rsa-oaep", digest="sha512", mgf="sha1", shape="retrieval"),
    Enc("aes256-gcm", "rsa-oaep"),  # xmlenc11 defaults: SHA-1, MGF1-SHA1
    Enc("aes256-gcm", "rsa-oaep-mgf1p", recipient="https://sp.example.com/saml/metadata"),
    Enc("aes128-cbc", "rsa-1_5"),
    Enc("aes256-gcm", "rsa-1_5", shape="sibling"),
    Enc("tripledes-cbc", "rsa-oaep-mgf1p"),
]


@pytest.mark.parametrize("enc", ROUND_TRIPS, ids=lambda e: f"{e.data}-{e.transport}-{e.digest}-{e.mgf}-{e.shape}")
def test_generated_round_trip(enc: Enc) -> None:
    plain = assertion_bytes()
    ea = encrypt(plain, enc)
    info = describe(ea)
    assert info.data_algorithm == DATA[enc.data][0]
    assert info.key_transport is not None and info.key_transport.endswith(enc.transport)
    assert info.recipient == enc.recipient
    if enc.transport != "rsa-1_5":
        assert info.oaep_digest == DIGEST_URIS[enc.digest or "sha1"]
        assert info.oaep_mgf == (XENC11 + "mgf1" + enc.mgf if enc.mgf else None)
    if enc.with_cert:
        assert info.recipient_cert_sha1 == sp().cert.fingerprint(hashes.SHA1()).hex().upper()
        assert info.key_name is not None and "sp.example.com encryption" in info.key_name

    out = decrypt_assertion(ea, [sp().key], LIMITS)
    # Namespace declarations may be added on the root, nothing else: the exclusive canonical form is identical.
    assert exc_c14n(out) == exc_c14n(plain)
    assert name_id(xmlsafe.parse(out, LIMITS)) == "alice@contoso.example"

    codes = {f.code for f in decryption_findings(info)}
    assert ("weak_data_encryption" in codes) == enc.data.endswith("cbc")
    assert ("weak_key_transport" in codes) == (enc.transport == "rsa-1_5")


@pytest.mark.parametrize("shape", ["inline", "retrieval", "sibling"])
def test_every_key_and_every_encrypted_key_is_tried(shape: str) -> None:
    ea = encrypt(assertion_bytes(), Enc(shape=shape), extra_keys=(other_sp(),))
    out = decrypt_assertion(ea, [make_keypair(cn="unrelated").key, other_sp().key], LIMITS)  # 2nd key, 1st EK
    assert name_id(xmlsafe.parse(out, LIMITS)) == "alice@contoso.example"
    out = decrypt_assertion(ea, [other_sp().key, sp().key], LIMITS)
    assert name_id(xmlsafe.parse(out, LIMITS)) == "alice@contoso.example"


@pytest.mark.parametrize("transport", ["rsa-oaep-mgf1p", "rsa-oaep", "rsa-1_5"])
def test_wrong_generated_key(transport: str) -> None:
    ea = encrypt(assertion_bytes(), Enc("aes128-cbc", transport, with_cert=True))
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [other_sp().key], LIMITS)
    f = err.value.finding
    assert f.code == "decrypt_wrong_key"
    assert sp().cert.fingerprint(hashes.SHA1()).hex().upper() in (f.expected or "")
    assert_no_secret(err.value, other_sp().key_pem)


def test_key_size_mismatch_is_explained() -> None:
    small = make_keypair(cn="small", bits=1024)
    ea = encrypt(assertion_bytes(), Enc(), kp=sp())
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [small.key], LIMITS)
    assert "made for a 2048-bit RSA key" in (err.value.finding.actual or "")
    assert "RSA-1024" in (err.value.finding.actual or "")


def test_tampered_gcm_ciphertext() -> None:
    ea = encrypt(assertion_bytes(), Enc("aes256-gcm"))
    value = ea.find(f"{{{XENC}}}EncryptedData/{{{XENC}}}CipherData/{{{XENC}}}CipherValue")
    assert value is not None and value.text
    blob = bytearray(base64.b64decode(value.text))
    blob[40] ^= 0x01  # one bit of ciphertext
    value.text = base64.b64encode(bytes(blob)).decode()
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_failed"
    assert "GCM" in err.value.finding.title


@pytest.mark.parametrize("pad_byte", [0, 17, 255])
def test_bad_cbc_padding(pad_byte: int) -> None:
    ea = encrypt(assertion_bytes(), Enc("aes128-cbc"), pad_byte=pad_byte)
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_failed"
    assert "padding" in err.value.finding.title


def test_bad_cbc_padding_under_pkcs1_v15_mentions_the_key() -> None:
    ea = encrypt(assertion_bytes(), Enc("aes128-cbc", "rsa-1_5"), pad_byte=0)
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_failed"
    assert "wrong private key" in (err.value.finding.actual or "")


def test_any_xml_enc_padding_bytes_are_accepted() -> None:
    # Only the last byte (the pad length) is defined; xmlsec writes random bytes before it.
    plain = assertion_bytes()
    for _ in range(4):
        assert exc_c14n(decrypt_assertion(encrypt(plain, Enc("aes256-cbc")), [sp().key], LIMITS)) == exc_c14n(plain)


@pytest.mark.parametrize("data", ["aes128-cbc", "aes256-gcm"])
@pytest.mark.parametrize("margin", [1, 4096])
def test_oversized_plaintext(data: str, margin: int) -> None:
    plain = assertion_bytes()
    limits = Limits(max_xml_bytes=len(plain) - margin)  # just over (checked after decryption) or far over
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(encrypt(plain, Enc(data)), [sp().key], limits)
    assert err.value.finding.code == "oversized_input"
    assert str(limits.max_xml_bytes) in (err.value.finding.expected or "")


def test_plaintext_that_is_not_an_assertion() -> None:
    plain = f'<samlp:Response xmlns:samlp="{SAMLP}" ID="_x"><secret>alice-sensitive</secret></samlp:Response>'.encode()
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(encrypt(plain), [sp().key], LIMITS)
    f = err.value.finding
    assert f.code == "decrypt_not_assertion"
    assert SAMLP in (f.actual or "")
    assert "alice-sensitive" not in repr(f) and "alice-sensitive" not in str(err.value)


def test_plaintext_that_is_not_xml_is_not_quoted() -> None:
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(encrypt(b"<saml:Assertion secret-value-42"), [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_failed"
    assert "secret-value-42" not in repr(err.value.finding)


def test_doctype_in_plaintext_is_refused() -> None:
    plain = b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + assertion_bytes()
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(encrypt(plain), [sp().key], LIMITS)
    assert err.value.finding.code == "xxe_blocked"
    assert "passwd" not in repr(err.value.finding)


def _set_algorithm(ea: etree._Element, path: str, uri: str) -> etree._Element:
    method = ea.find(path)
    assert method is not None
    method.set("Algorithm", uri)
    return ea


def test_unsupported_algorithms() -> None:
    ea = _set_algorithm(
        encrypt(assertion_bytes()), f"{{{XENC}}}EncryptedData/{{{XENC}}}EncryptionMethod", XENC + "kw-aes256"
    )
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_unsupported_algorithm"
    assert "kw-aes256" in (err.value.finding.actual or "")

    ea = _set_algorithm(
        encrypt(assertion_bytes()), f".//{{{XENC}}}EncryptedKey/{{{XENC}}}EncryptionMethod", XENC + "kw-aes128"
    )
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_unsupported_algorithm"
    assert "key transport" in err.value.finding.title

    ea = encrypt(assertion_bytes(), Enc(digest="sha256"))
    _set_algorithm(ea, f".//{{{DS}}}DigestMethod", XENC + "ripemd160")
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_unsupported_algorithm"


def test_cipher_reference_is_never_fetched() -> None:
    ea = encrypt(assertion_bytes())
    cipher_data = ea.find(f"{{{XENC}}}EncryptedData/{{{XENC}}}CipherData")
    assert cipher_data is not None
    for child in list(cipher_data):
        cipher_data.remove(child)
    _sub(cipher_data, XENC, "CipherReference", URI="http://169.254.169.254/latest/meta-data/")
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_unsupported_algorithm"
    assert "CipherReference" in err.value.finding.title


def test_malformed_structures() -> None:
    ea = encrypt(assertion_bytes())
    key_info = ea.find(f"{{{XENC}}}EncryptedData/{{{DS}}}KeyInfo")
    assert key_info is not None
    key_info.getparent().remove(key_info)  # type: ignore[union-attr]
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_malformed"
    assert "no xenc:EncryptedKey" in err.value.finding.title

    ea = encrypt(assertion_bytes())
    value = ea.find(f"{{{XENC}}}EncryptedData/{{{XENC}}}CipherData/{{{XENC}}}CipherValue")
    assert value is not None
    value.text = "not base64!"
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_malformed" and "base64" in err.value.finding.title

    ea = encrypt(assertion_bytes())
    data = ea.find(f"{{{XENC}}}EncryptedData")
    assert data is not None
    ea.append(etree.fromstring(etree.tostring(data)))
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_malformed" and "exactly one" in err.value.finding.title

    ea = encrypt(assertion_bytes(), Enc("aes256-gcm"))
    value = ea.find(f"{{{XENC}}}EncryptedData/{{{XENC}}}CipherData/{{{XENC}}}CipherValue")
    assert value is not None
    value.text = base64.b64encode(b"\0" * 20).decode()
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_malformed" and "too short" in err.value.finding.title

    ea = encrypt(assertion_bytes())
    data = ea.find(f"{{{XENC}}}EncryptedData")
    assert data is not None
    data.set("Type", XENC + "Content")
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(ea, [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_malformed" and "Content" in (err.value.finding.actual or "")

    with pytest.raises(DecryptError) as err:
        decrypt_assertion(etree.Element(f"{{{SAML}}}Assertion"), [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_malformed"


def test_describe_tolerates_an_empty_encrypted_assertion() -> None:
    ea = etree.Element(f"{{{SAML}}}EncryptedAssertion")
    assert describe(ea) == EncryptionInfo(None, None, None, None, None, None, None, ())
    assert decryption_findings(describe(ea)) == []


# --- namespaces declared only outside the encrypted assertion ---------------------------------------------------


def _signed_in_context() -> tuple[bytes, etree._Element]:
    """A Response whose Assertion uses the `saml` prefix declared only on the Response, signed in place with
    exc-c14n by the IdP, then cut out as bytes the way xmlsec serialises the node it encrypts (no ancestor
    declarations). Returns (plaintext bytes, the signed Response)."""
    response = etree.Element(f"{{{SAMLP}}}Response", nsmap={"samlp": SAMLP, "saml": SAML, "xs": "urn:x-unused"})
    response.set("ID", "_r1")
    assertion = etree.fromstring(assertion_bytes())
    moved = etree.SubElement(response, f"{{{SAML}}}Assertion")  # no nsmap: uses the Response's saml prefix
    for k, v in assertion.attrib.items():
        moved.set(k, v)
    moved.extend(list(assertion))
    signed = etree.fromstring(etree.tostring(sign(response, "assertion")))
    text = etree.tostring(signed)
    start = text.index(b"<saml:Assertion")
    end = text.index(b"</saml:Assertion>") + len(b"</saml:Assertion>")
    plain = text[start:end]
    assert b'xmlns:saml="' not in plain[: plain.index(b">")]  # the prefix really is declared outside only
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(plain, xmlsafe.make_parser())
    return plain, signed


def test_namespaces_from_outside_are_redeclared_without_changing_the_signed_form() -> None:
    plain, signed = _signed_in_context()
    ea = encrypt(plain)
    out = decrypt_assertion(ea, [sp().key], LIMITS)
    standalone = xmlsafe.parse(out, LIMITS)
    assert standalone.tag == f"{{{SAML}}}Assertion"
    # Only declarations were added, on the root start tag; the rest is byte for byte the IdP's plaintext.
    root_end = plain.index(b" ")
    assert out.startswith(plain[:root_end]) and out.endswith(plain[root_end:])
    added = out[root_end : len(out) - len(plain) + root_end]
    assert re.fullmatch(rb'( xmlns(:\w+)?="[^"]*")+', added), added
    # The exclusive canonical form equals that of the assertion in place in the signed Response...
    in_place = signed.find(f"{{{SAML}}}Assertion")
    assert in_place is not None
    assert etree.tostring(standalone, method="c14n", exclusive=True) == etree.tostring(
        in_place, method="c14n", exclusive=True
    )
    # ...so signxml verifies the standalone bytes against the IdP certificate.
    assert _verify(out, idp_key().cert).get("ID") == standalone.get("ID")


# --- keys -------------------------------------------------------------------------------------------------------


def assert_no_secret(err: DecryptError, key_data: bytes) -> None:
    """Neither the message nor the finding carries a line of the key file (nor anything long and base64)."""
    text = str(err) + repr(err.finding)
    for line in key_data.splitlines():
        line = line.strip()
        if len(line) >= 16 and not line.startswith(b"-----"):
            assert line.decode() not in text
    assert not re.search(r"[A-Za-z0-9+/]{48,}", text)


def _pem(key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat, password: bytes | None = None) -> bytes:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc)


def _n(keys: list[rsa.RSAPrivateKey]) -> list[int]:
    return [k.private_numbers().public_numbers.n for k in keys]


def test_load_private_keys_forms(corpus: Path) -> None:
    key = sp().key
    n = key.private_numbers().public_numbers.n
    pkcs1 = _pem(key, serialization.PrivateFormat.TraditionalOpenSSL)
    pkcs8 = _pem(key, serialization.PrivateFormat.PKCS8)
    assert b"BEGIN RSA PRIVATE KEY" in pkcs1 and b"BEGIN PRIVATE KEY" in pkcs8
    assert _n(load_private_keys(pkcs1)) == [n]
    assert _n(load_private_keys(pkcs8)) == [n]
    # a bundle: certificate, two keys, CRLF line endings
    bundle = (sp().cert_pem + pkcs8 + _pem(other_sp().key, serialization.PrivateFormat.PKCS8)).replace(b"\n", b"\r\n")
    assert _n(load_private_keys(bundle)) == [n, other_sp().key.private_numbers().public_numbers.n]
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert _n(load_private_keys(der)) == [n]
    assert _n(load_private_keys(base64.b64encode(der))) == [n]  # python3-saml settings style
    # a password given for a key that has none is ignored
    assert _n(load_private_keys(pkcs8, b"unneeded")) == [n]
    # corpus keys are PKCS#1 and load
    for path in (
        "peers/python3-saml/sp_key.pem",
        "peers/crewjam-saml/sp_key.pem",
        "peers/ruby-saml/ruby-saml_sp_key.pem",
    ):
        assert len(load_private_keys((corpus / path).read_bytes())) == 1


def test_load_encrypted_and_pkcs12_keys() -> None:
    key = sp().key
    n = key.private_numbers().public_numbers.n
    locked = _pem(key, serialization.PrivateFormat.PKCS8, b"s3cret")
    assert _n(load_private_keys(locked, b"s3cret")) == [n]
    with pytest.raises(DecryptError) as err:
        load_private_keys(locked)
    assert err.value.finding.code == "decrypt_key_invalid" and "password" in err.value.finding.title
    with pytest.raises(DecryptError) as err:
        load_private_keys(locked, b"wrong")
    assert "password does not open" in err.value.finding.title
    assert "wrong" not in repr(err.value.finding) and "s3cret" not in repr(err.value.finding)

    pfx = pkcs12.serialize_key_and_certificates(
        b"sp", key, sp().cert, None, serialization.BestAvailableEncryption(b"pfx-pass")
    )
    assert _n(load_private_keys(pfx, b"pfx-pass")) == [n]


def test_bad_key_inputs_are_explained() -> None:
    cases: list[tuple[bytes, str]] = [
        (sp().cert_pem, "certificate"),
        (b"", "empty"),
        (b"hello, this is not a key", "could not be read"),
        (b"\x30\x03\x02\x01\x00", "could not be read"),
        (b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", "OpenSSH"),
        (b"x" * (1024 * 1024 + 1), "larger than the limit"),
    ]
    ec_key = ec.generate_private_key(ec.SECP256R1())
    cases.append((_pem(ec_key, serialization.PrivateFormat.PKCS8), "not an RSA key"))  # type: ignore[arg-type]
    for data, words in cases:
        with pytest.raises(DecryptError) as err:
            load_private_keys(data)
        assert err.value.finding.code == "decrypt_key_invalid", words
        assert words in err.value.finding.title, (words, err.value.finding.title)
        assert_no_secret(err.value, data)


def test_error_messages_never_carry_key_material() -> None:
    pem = _pem(other_sp().key, serialization.PrivateFormat.PKCS8)
    broken = pem.replace(pem.splitlines()[5], b"!!!!" + pem.splitlines()[5][4:])
    with pytest.raises(DecryptError) as err:
        load_private_keys(broken)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert_no_secret(err.value, pem)


def test_der_keys_and_passwords() -> None:
    key = sp().key
    n = key.private_numbers().public_numbers.n
    plain_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert _n(load_private_keys(plain_der)) == [n]  # PKCS#1 DER
    assert _n(load_private_keys(plain_der, b"ignored")) == [n]  # the password is not needed: ignored
    locked = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    assert _n(load_private_keys(locked, b"pw")) == [n]
    with pytest.raises(DecryptError) as err:
        load_private_keys(locked, b"nope")
    assert "password" in err.value.finding.title


def test_pem_scan_is_bounded() -> None:
    with pytest.raises(DecryptError) as err:
        load_private_keys(b"-----BEGIN PRIVATE KEY-----\n" * 30_000)  # ~830 KB of unterminated blocks
    assert "cut off" in err.value.finding.title


def test_redeclaration_after_a_prolog_and_with_pkcs1_v15() -> None:
    plain, _signed = _signed_in_context()
    prolog = b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- from the IdP -->\n'
    out = decrypt_assertion(encrypt(prolog + plain, Enc("aes128-cbc", "rsa-1_5")), [sp().key], LIMITS)
    assert out.startswith(prolog + b"<saml:Assertion xmlns")
    assert xmlsafe.parse(out, LIMITS).tag == f"{{{SAML}}}Assertion"


def test_not_an_assertion_under_pkcs1_v15_is_not_blamed_on_the_key() -> None:
    plain = f'<samlp:Response xmlns:samlp="{SAMLP}" ID="_x"/>'.encode()
    with pytest.raises(DecryptError) as err:
        decrypt_assertion(encrypt(plain, Enc("aes256-gcm", "rsa-1_5")), [sp().key], LIMITS)
    assert err.value.finding.code == "decrypt_not_assertion"
    assert "wrong private key" not in (err.value.finding.actual or "")


# --- review findings: a clear assertion beside an encrypted one; ciphertext in stored reports ---------------


def _response_with(*children: etree._Element) -> bytes:
    from factory import build_response

    response = build_response(ResponseSpec(with_assertion=False))
    for child in children:
        response.append(child)
    return etree.tostring(response)


def _signed_assertion() -> bytes:
    from factory import sign

    return etree.tostring(sign(build_assertion(ResponseSpec()), "assertion"))


def test_clear_assertion_beside_an_encrypted_signed_one_is_an_attack() -> None:
    from helpers import entra_settings, run

    evil = build_assertion(ResponseSpec(name_id="mallory@evil.example"))
    ea = encrypt(_signed_assertion())
    data = _response_with(evil, ea)
    settings = dataclasses.replace(entra_settings(), decryption_keys=(sp().key,))
    report = run(data, settings)
    msg = report.messages[0]
    assert "xsw" in {f.code for f in report.findings}
    assert msg.signature.status.value == "invalid" and msg.trusted is None
    report = run(data, entra_settings())  # without the key: still an attack
    assert report.messages[0].signature.status.value == "invalid"


def test_two_encrypted_assertions_are_an_attack() -> None:
    from helpers import entra_settings, run

    data = _response_with(encrypt(_signed_assertion()), encrypt(_signed_assertion()))
    report = run(data, dataclasses.replace(entra_settings(), decryption_keys=(sp().key,)))
    assert "xsw" in {f.code for f in report.findings}
    assert report.messages[0].trusted is None


def test_stored_reports_and_sanitized_captures_drop_the_ciphertext() -> None:
    from samldebug.redact import strip_signature_values

    ea = encrypt(_signed_assertion())
    xml = _response_with(ea).decode()
    cipher_values = [el.text for el in ea.iter(f"{{{XENC}}}CipherValue")]
    stored = strip_signature_values(xml)
    for value in cipher_values:
        assert value and value not in stored
    assert "EncryptionMethod" in stored  # the algorithms stay diagnosable


def test_sanitize_drops_ciphertext_too() -> None:
    from samldebug.sanitize import _Sanitizer

    ea = encrypt(_signed_assertion())
    xml = _response_with(ea)
    values = [el.text for el in ea.iter(f"{{{XENC}}}CipherValue")]
    out, changed = _Sanitizer(LIMITS).blank(xml)
    assert changed and out is not None
    for value in values:
        assert value and value.encode() not in out
