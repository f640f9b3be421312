"""End to end: a real, independent SAML IdP (pysaml2's Server, its own process on loopback, xmlsec1 for its
signatures) and Debian's Chromium through the full redirect: SP-initiated (Redirect/POST, signed/unsigned),
IdP-initiated, encrypted assertion, single logout both ways, and the failures the IdP can produce.

The IdP listens on `localhost`, samldebug on `127.0.0.1`: different sites, so the ACS POST is cross-site and a
SameSite=Lax cookie does not come with it (as with Entra)."""

from __future__ import annotations

import json
import os
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
from webutil import live_server, make_app

pytestmark = pytest.mark.browser
HERE = Path(__file__).resolve().parent


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_IDP") == "1":
        pytest.fail(f"REQUIRE_IDP=1 but {reason}")
    pytest.skip(reason)


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
        _unavailable("pysaml2 is not installed (pip install -e '.[test]')")
    if not shutil.which("xmlsec1"):
        _unavailable("xmlsec1 is not installed (make system-deps installs it with apt)")
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
            [sys.executable, str(HERE / "idp.py"), "--host", "localhost", "--sp-metadata", str(tmp / "sp.xml"),
             "--workdir", str(tmp)],
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
        assert page.locator("#idp-summary").is_visible(), page.content()
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
