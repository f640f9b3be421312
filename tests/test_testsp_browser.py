"""The test SP pages in Debian's Chromium with an Entra-shaped app: create, upload the app's metadata, preview a
request (htmx swap, strict CSP), receive an Entra-shaped response at the ACS. SAMLDEBUG_UPDATE_SCREENSHOTS=1 writes
the README walkthrough's pictures (docs/testsp-*.png)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from browser import PageWatch, docs_shot
from factory import ResponseSpec, metadata, signed_response
from webutil import live_server, make_app

pytestmark = pytest.mark.browser
DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_entra_walkthrough(browser: Any, tmp_path: Path) -> None:
    app = make_app(tmp_path, RATELIMIT_ENABLED=False)
    with live_server(app) as base:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        watch = PageWatch(page)
        page.goto(base + "/sp")
        page.fill("#create-sp input[name=name]", "contoso-hr")
        page.click("#create-sp button[type=submit]")
        page.wait_for_url(base + "/sp/contoso-hr")
        entity = base + "/sp/contoso-hr"
        assert page.input_value("#basic-saml input[data-field='Identifier (Entity ID)']") == entity
        assert (
            page.input_value("#basic-saml input[data-field='Reply URL (Assertion Consumer Service URL)']")
            == entity + "/acs"
        )
        page.set_input_files(
            "#idp-form input[name=metadata_file]",
            {"name": "contoso-hr.xml", "mimeType": "application/xml", "buffer": metadata()},
        )
        page.click("#idp-form button[type=submit]")
        page.wait_for_selector("#idp-summary")
        assert "login.microsoftonline.com" in page.inner_text("#idp-summary")
        docs_shot(page, "testsp-setup", "#entra-setup")

        # Knobs: a request shape many SPs send, and what Entra will say about it (htmx swaps the preview in).
        page.fill("#request-form textarea[name=authn_contexts]", "PasswordProtectedTransport")
        page.select_option("#request-form select[name=comparison]", "minimum")
        page.fill("#request-form input[name=name_id_format]", "persistent")
        page.click("#preview-button")
        page.wait_for_selector("#request-preview")
        assert "requested_authn_context" in page.inner_text("#predictions")
        assert page.url.startswith(base + "/sp/contoso-hr#")  # swapped in place, no navigation
        docs_shot(page, "testsp-request", "#preview")

        # Entra's "Test" button without a Sign on URL: an IdP-initiated response posted to the Reply URL.
        spec = ResponseSpec(
            in_response_to=None, audience=entity, recipient=entity + "/acs", destination=entity + "/acs"
        )
        response = base64.b64encode(signed_response("assertion", spec)).decode()
        page.goto(base + "/sp")
        page.evaluate(
            """([action, value]) => {
                const f = document.createElement('form'); f.method = 'post'; f.action = action;
                const i = document.createElement('input'); i.type = 'hidden'; i.name = 'SAMLResponse'; i.value = value;
                f.append(i); document.body.append(f); f.submit();
            }""",
            [entity + "/acs", response],
        )
        page.wait_for_url(entity + "/result/**")
        assert "IdP-initiated" in page.inner_text("#flow-kind")
        assert "signature: valid" in page.inner_text("#verdict")
        docs_shot(page, "testsp-result", "h1")
        watch.assert_clean()
        ctx.close()
