"""End to end: a real, independent SAML IdP (pysaml2's Server, its own process on loopback, xmlsec1 for its
signatures) and Debian's Chromium through the full redirect: SP-initiated (Redirect/POST, signed/unsigned),
IdP-initiated, encrypted assertion, single logout both ways, and the failures the IdP can produce.

The IdP listens on `localhost`, samldebug on `127.0.0.1`: different sites, so the ACS POST is cross-site and a
SameSite=Lax cookie does not come with it (as with Entra)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser import PageWatch
from realparts import unavailable
from webutil import live_server, make_app

pytestmark = pytest.mark.browser
HERE = Path(__file__).resolve().parent


class Clock:
    """Real time (the IdP stamps real instants) plus an offset the tests move to make responses arrive late."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Stack:
    base: str  # samldebug
    idp: str  # the pysaml2 IdP
    clock: Clock
    context: Any  # the browser context that signs in

    def idp_get(self, path: str) -> Any:
        with urllib.request.urlopen(self.idp + path, timeout=10) as r:  # loopback only
            return json.loads(r.read())

    def page(self) -> Any:
        page = self.context.new_page()
        page.set_default_timeout(20000)
        return page


@pytest.fixture(scope="module")
def stack(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    try:
        import saml2  # noqa: F401
    except ImportError:
        unavailable("IDP", "pysaml2 is not installed (pip install -e '.[test]')")
    if not shutil.which("xmlsec1"):
        unavailable("IDP", "xmlsec1 is not installed (make system-deps installs it with apt)")
    tmp = tmp_path_factory.mktemp("testsp-e2e")
    clock = Clock()
    app = make_app(
        tmp,
        CLOCK=clock,
        metadata_allowed_hosts="localhost",
        metadata_allow_http=True,
        metadata_allow_private=True,
        RATELIMIT_ENABLED=False,
    )
    with ExitStack() as stack:
        base = stack.enter_context(live_server(app))
        context = browser.new_context()
        stack.callback(context.close)
        page = context.new_page()
        page.goto(base + "/sp")
        page.fill("#create-sp input[name=name]", "e2e")
        page.click("#create-sp button[type=submit]")
        page.wait_for_url(base + "/sp/e2e")
        page.close()
        with urllib.request.urlopen(base + "/sp/e2e/metadata", timeout=10) as r:
            (tmp / "sp.xml").write_bytes(r.read())
        proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "idp.py"),
                "--host",
                "localhost",
                "--sp-metadata",
                str(tmp / "sp.xml"),
                "--workdir",
                str(tmp),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        stack.callback(lambda: (proc.terminate(), proc.wait(10)))
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("READY "), f"the IdP did not start: {line!r}"
        idp = line.split()[1]
        page = context.new_page()
        page.goto(base + "/sp/e2e")
        page.fill("#idp-form input[name=metadata_url]", idp + "/metadata")
        page.click("#idp-form button[type=submit]")
        page.wait_for_selector("#idp-summary")
        page.close()
        yield Stack(base, idp, clock, context)


def sign_in(stack: Stack, **knobs: Any) -> Any:
    page = stack.page()
    page.goto(stack.base + "/sp/e2e")
    page.check(f"#request-form input[name=binding][value={knobs.get('binding', 'redirect')}]")
    if knobs.get("sign"):
        page.check("#request-form input[name=sign]")
    else:
        page.uncheck("#request-form input[name=sign]")
    page.fill("#request-form input[name=acs_url]", knobs.get("acs_url", ""))
    page.fill("#request-form input[name=relay_state]", knobs.get("relay_state", ""))
    page.click("#sign-in-button")
    return page


def result(page: Any, stack: Stack) -> Any:
    try:
        page.wait_for_url(f"{stack.base}/sp/e2e/result/**", timeout=15000)
    except Exception as e:  # show where the flow stopped
        raise AssertionError(f"no report: stopped at {page.url}: {page.inner_text('body')[:1500]}") from e
    return page


@pytest.mark.parametrize("binding", ["redirect", "post"])
@pytest.mark.parametrize("signed", [False, True])
def test_sp_initiated(stack: Stack, binding: str, signed: bool) -> None:
    page = sign_in(stack, binding=binding, sign=signed, relay_state="rs-" + binding)
    watch = PageWatch(page)
    result(page, stack)
    assert "SP-initiated" in page.inner_text("#flow-kind")
    assert "signature: valid" in page.inner_text("#verdict")
    assert "rs-" + binding in page.inner_text("#flow")
    last = stack.idp_get("/last")
    assert last["binding"].endswith("HTTP-Redirect" if binding == "redirect" else "HTTP-POST")
    assert last["signed"] is signed
    watch.assert_clean()
    page.close()


def test_sign_on_url(stack: Stack) -> None:
    """Entra's "Test" button and My Apps open the Sign on URL: an SP-initiated sign-in with the last knobs."""
    page = stack.page()
    page.goto(stack.base + "/sp/e2e/login")
    result(page, stack)
    assert "SP-initiated" in page.inner_text("#flow-kind") and "the sign-on URL" in page.inner_text("#flow")
    assert "signature: valid" in page.inner_text("#verdict")
    page.close()


def test_idp_initiated_and_share(stack: Stack) -> None:
    page = stack.page()
    watch = PageWatch(page)
    page.goto(stack.idp + "/start?RelayState=from-my-apps")
    result(page, stack)
    assert "IdP-initiated" in page.inner_text("#flow-kind")
    assert "signature: valid" in page.inner_text("#verdict")
    assert "idp_initiated" in page.inner_text("ul.facts")  # a fact, in the message's summary section
    assert "from-my-apps" in page.inner_text("#flow")
    url = page.url
    # Another browser cannot open the report (no key cookie); the receiving one can share it.
    other = stack.context.browser.new_context()
    try:
        assert other.new_page().goto(url).status == 404
    finally:
        other.close()
    page.click("#share-panel summary")
    page.click("#share-button")
    link = page.input_value("#permalink")
    assert "/r/" in link
    page.goto(link)
    assert "signature: valid" in page.inner_text("#verdict")
    watch.assert_clean()
    page.close()


def test_encrypted_assertion(stack: Stack) -> None:
    stack.idp_get("/control?encrypt=1")
    try:
        page = sign_in(stack, binding="redirect", sign=True)
        result(page, stack)
        text = page.inner_text("#report")
        assert "decrypted" in text
        assert "signature: valid" in page.inner_text("#verdict")
        assert "alice@example.com" in text  # the attribute inside the decrypted assertion
    finally:
        stack.idp_get("/control?encrypt=0")
    page.close()


def test_single_logout_sp_initiated(stack: Stack) -> None:
    page = sign_in(stack, binding="redirect", sign=False)
    result(page, stack)
    page.click("#logout-button")
    result(page, stack)
    assert "Logout response" in page.inner_text("#flow-kind")
    assert "signature: valid" in page.inner_text("#verdict")
    assert "in_response_to_mismatch" not in page.inner_text("#report")
    assert stack.idp_get("/last")["signed"] is True  # the IdP received and verified a signed LogoutRequest
    page.close()


def test_single_logout_idp_initiated(stack: Stack) -> None:
    page = stack.page()
    page.goto(stack.idp + "/logout-start?name_id=alice")
    page.wait_for_selector("#idp-message")
    assert "urn:oasis:names:tc:SAML:2.0:status:Success" in page.inner_text("#idp-message")
    assert stack.idp_get("/last")["signed"] is True
    page.close()


def test_wrong_acs_url_is_the_idps_error(stack: Stack) -> None:
    wrong = stack.base + "/sp/e2e/acs-wrong"
    page = stack.page()
    page.goto(stack.base + "/sp/e2e")
    page.fill("#request-form input[name=acs_url]", wrong)
    page.click("#preview-button")  # the preview predicts Entra's AADSTS50011
    page.wait_for_selector("#predictions")
    assert "acs_url_not_registered" in page.inner_text("#predictions")
    page.click("#sign-in-button")
    page.wait_for_selector("#idp-message")
    assert page.url.startswith(stack.idp)
    assert "refused" in page.inner_text("#idp-message")
    assert "error" in stack.idp_get("/last")
    page.close()


def test_idp_requiring_signed_requests(stack: Stack) -> None:
    """Like Entra with verification certificates (AADSTS76021): the unsigned request is the IdP's error, the
    signed one signs in; the preview predicted it."""
    stack.idp_get("/control?require_signed=1")
    try:
        page = stack.page()
        page.goto(stack.base + "/sp/e2e")
        page.uncheck("#request-form input[name=sign]")
        page.check("#request-form input[name=entra_requires_signed]")
        page.click("#preview-button")
        page.wait_for_selector("#predictions")
        assert "unsigned_request" in page.inner_text("#predictions")
        page.click("#sign-in-button")
        page.wait_for_selector("#idp-message")
        assert "refused" in page.inner_text("#idp-message")
        page.close()
        page = sign_in(stack, binding="post", sign=True)
        result(page, stack)
        assert "signature: valid" in page.inner_text("#verdict") and stack.idp_get("/last")["signed"] is True
        page.close()
    finally:
        stack.idp_get("/control?require_signed=0")


def test_replayed_response(stack: Stack) -> None:
    page = sign_in(stack, binding="post", sign=True)
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.post_data or "") if r.url.endswith("/sp/e2e/acs") else None)
    result(page, stack)
    assert posted and "SAMLResponse=" in posted[0]
    assert "response_replayed" not in page.inner_text("#report")
    # The same response posted again, by the same browser (an attacker would need the SAMLResponse only).
    page.goto(stack.idp + "/last")
    page.evaluate(
        """([action, body]) => {
            const form = document.createElement('form');
            form.method = 'post'; form.action = action;
            for (const [k, v] of new URLSearchParams(body)) {
                const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; form.append(i);
            }
            document.body.append(form); form.submit();
        }""",
        [stack.base + "/sp/e2e/acs", posted[0]],
    )
    result(page, stack)
    report = page.inner_text("#report")
    assert "response_replayed" in report and "request_answered_twice" in report
    assert "replayed" in page.inner_text("#flow-kind")
    page.close()


def test_expired_response(stack: Stack) -> None:
    stack.clock.offset = timedelta(hours=1)  # the response arrives an hour after it was issued
    try:
        page = sign_in(stack, binding="redirect")
        result(page, stack)
        assert "outside validity window" in page.inner_text("#verdict")
    finally:
        stack.clock.offset = timedelta()
    page.close()


def test_unknown_signing_key_after_the_idp_rolls_its_key(stack: Stack) -> None:
    """Last: the IdP signs with a new key; the app metadata the test SP cached still names the old one."""
    stack.idp_get("/control?roll=1")
    page = sign_in(stack, binding="redirect")
    result(page, stack)
    verdict = page.inner_text("#verdict")
    assert "signature: valid" not in verdict
    assert "signed_by_unknown_key" in page.inner_text("#report")
    # Saving the metadata URL fetches it again: the new key is trusted and sign-in verifies.
    page.goto(stack.base + "/sp/e2e")
    page.click("#idp-form button[type=submit]")
    page.wait_for_selector("#idp-summary")
    page.close()
    page = sign_in(stack, binding="redirect")
    result(page, stack)
    assert "signature: valid" in page.inner_text("#verdict"), page.inner_text("#report")[:3000]
    page.close()
