"""End to end in Debian's Chromium: what a support engineer does on the page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser import PageWatch, docs_shot, shot
from factory import ACS_URL, SP_ENTITY_ID, ResponseSpec, b64, build_response, metadata, signed_response, to_bytes
from helpers import CORPUS
from webutil import live_server, make_app

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    app = make_app(tmp_path_factory.mktemp("web"))
    with live_server(app) as url:
        yield url


def open_page(browser, server: str, **context):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
    page = ctx.new_page()
    watch = PageWatch(page)
    page.goto(server + "/")
    return ctx, page, watch


def test_paste_corpus_response_and_see_verdict(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    ctx, page, watch = open_page(browser, server)
    page.fill("#input", (CORPUS / "entra/aad_saml2_assertion_2017-03-20_valid.xml").read_text())
    page.click("summary")
    page.fill("textarea[name=cert]", (CORPUS / "entra/aad_signing_cert_2017.pem").read_text())
    page.fill("input[name=now]", "2017-03-20T16:00:00Z")
    page.click("button.primary")
    page.wait_for_selector("#verdict")
    assert page.inner_text("#verdict .headline").startswith("Healthy sign-in: Entra issued a signed assertion")
    assert "RrX3SPSxDw6z4KHaKB2V_mnv0G-LbRZdYvo1RQa1L7s" in page.inner_text("#summary-0")
    assert page.locator("#summary-0 .v-trusted").count() > 3
    shot(page, "corpus-valid")
    watch.assert_clean()
    ctx.close()


def test_keyboard_submit_findings_first_and_dark_mode(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    ctx, page, watch = open_page(browser, server, color_scheme="dark")
    spec = ResponseSpec(audience="https://sp.example.com/saml/metadata/")
    page.fill("#input", b64(signed_response(spec=spec)))
    page.click("summary")
    page.fill("textarea[name=metadata]", metadata().decode())
    page.fill("input[name=sp_entity_id]", SP_ENTITY_ID)
    page.fill("input[name=acs_url]", ACS_URL)
    page.fill("input[name=now]", "2026-03-01T12:01:00Z")
    page.focus("#input")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#verdict")
    headline = page.inner_text("#verdict .headline")  # the diagnosis: both values and the difference
    assert "https://sp.example.com/saml/metadata/" in headline and "trailing slash" in headline
    assert "Copy for ticket" in page.inner_text("#verdict")
    first = page.locator(".finding").first
    assert "audience_mismatch" in first.inner_text() and "trailing slash" in first.inner_text()
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    r, g, b = (int(x) for x in bg[bg.index("(") + 1 : bg.index(")")].split(",")[:3])
    assert r + g + b < 150, bg  # dark theme followed the OS setting
    path = shot(page, "audience-mismatch-dark")
    watch.assert_clean()
    ctx.close()
    assert path.exists()


def test_xss_payload_stays_text(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    ctx, page, watch = open_page(browser, server)
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    page.fill("#input", b64(to_bytes(build_response(ResponseSpec(name_id=evil)))))
    page.click("button.primary")
    page.wait_for_selector("#verdict")
    assert evil in page.inner_text("#summary-0")
    assert page.locator("#summary-0 img").count() == 0
    watch.assert_clean()  # no dialog opened, no CSP violation
    ctx.close()


def test_works_without_javascript(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    ctx, page, watch = open_page(browser, server, java_script_enabled=False)
    page.fill("#input", b64(signed_response()))
    page.click("button.primary")
    page.wait_for_selector("#verdict")
    assert page.url.endswith("/analyze#report")  # the browser scrolls to the report
    assert "unverified" in page.inner_text("#verdict")
    ctx.close()


def test_narrow_screen_is_readable(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    watch = PageWatch(page)
    page.goto(server + "/")
    page.fill("#input", b64(signed_response(spec=ResponseSpec(audience="https://sp.example.com/saml/metadata/"))))
    page.click("#settings > summary")
    page.fill("textarea[name=metadata]", metadata().decode())
    page.fill("input[name=sp_entity_id]", SP_ENTITY_ID)
    page.fill("input[name=now]", "2026-03-01T12:01:00Z")
    page.click("#settings > summary")
    page.click("button.primary")
    page.wait_for_selector("#verdict")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, width  # no horizontal scrolling of the page itself
    shot(page, "narrow")
    docs_shot(page, "narrow", "#report")
    watch.assert_clean()
    ctx.close()


def test_report_screenshot(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    """A real report as a picture; SAMLDEBUG_UPDATE_SCREENSHOTS=1 copies it to docs/report.png for the README."""
    ctx, page, watch = open_page(browser, server)
    spec = ResponseSpec(audience="https://sp.example.com/saml/metadata/")
    page.fill("#input", b64(signed_response(spec=spec)))
    page.click("summary")
    page.fill("textarea[name=metadata]", metadata().decode())
    page.fill("input[name=sp_entity_id]", SP_ENTITY_ID)
    page.fill("input[name=now]", datetime(2026, 3, 1, 12, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    page.click("summary")
    page.click("button.primary")
    page.wait_for_selector("#verdict")
    shot(page, "report")
    docs_shot(page, "report", "#report")
    watch.assert_clean()
    ctx.close()


def test_share_and_open_in_fresh_context(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine, text

    db = tmp_path / "share.db"
    app = make_app(tmp_path, database_url=f"sqlite:///{db}")
    with live_server(app) as url:
        ctx, page, watch = open_page(browser, url)
        spec = ResponseSpec(audience="https://sp.example.com/saml/metadata/")
        page.fill("#input", b64(signed_response(spec=spec)))
        page.click("summary")
        page.fill("textarea[name=metadata]", metadata().decode())
        page.fill("input[name=sp_entity_id]", SP_ENTITY_ID)
        page.click("button.primary")
        page.wait_for_selector("#share-panel")
        page.click("#share-panel summary")
        page.select_option("select[name=redact]", "identity")
        page.fill("input[name=title]", "Audience problem for ACME")
        page.click("#share-button")
        page.wait_for_selector("#permalink")
        link = page.input_value("#permalink")
        findings = page.locator(".finding .code").all_inner_texts()
        watch.assert_clean()
        ctx.close()

        fresh = browser.new_context()
        other = fresh.new_page()
        other_watch = PageWatch(other)
        other.goto(link)
        assert "Audience problem for ACME" in other.inner_text("h1")
        assert other.locator(".finding .code").all_inner_texts() == findings
        assert "alice@contoso.example" not in other.content()
        shot(other, "permalink")
        other_watch.assert_clean()
        fresh.close()
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM reports")).one()
    engine.dispose()
    raw = b"".join(bytes(v) if isinstance(v, bytes) else str(v).encode() for v in row)
    assert b"alice@contoso.example" not in raw and b"SignatureValue" not in raw and b"Alice" not in raw


def test_checklist_and_compare_side_by_side(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    ctx, page, watch = open_page(browser, server)
    page.fill("#input", b64(signed_response()))
    page.click("button.primary")
    page.wait_for_selector("#checklist")
    assert page.locator("#checklist tr.cl-ok").count() >= 1
    page.goto(server + "/compare")
    a, b = ResponseSpec(name_id="alice@contoso.example"), ResponseSpec(name_id="Alice@Contoso.example")
    page.fill("textarea[name=input_a]", b64(signed_response(spec=a)))
    page.fill("textarea[name=input_b]", b64(signed_response(spec=b)))
    page.click("button.primary")
    page.wait_for_selector("#differences")
    left, right = page.locator("#side-1").bounding_box(), page.locator("#side-2").bounding_box()
    assert left and right and abs(left["y"] - right["y"]) < 5 and right["x"] > left["x"]  # side by side
    assert "ToLowercase()" in page.inner_text("#differences")
    shot(page, "compare")
    docs_shot(page, "compare", "#differences")
    watch.assert_clean()
    ctx.close()


def test_upload_har_and_open_a_flow(browser, server: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import harfactory as hf

    path = tmp_path / "capture.har"
    path.write_bytes(hf.dumps(hf.har(hf.sp_initiated(), "firefox")))
    ctx, page, watch = open_page(browser, server)
    page.set_input_files("#file", str(path))
    page.click("button.primary")
    page.wait_for_selector("#flows")
    page.click("#flows .flow a >> nth=-1")  # the response of the first flow
    assert page.url.endswith("#message-1")
    assert page.locator("#message-1").is_visible()
    assert "response" in page.inner_text("#message-1").lower()
    shot(page, "capture")
    docs_shot(page, "capture", "#flows")
    watch.assert_clean()
    ctx.close()


def test_copy_for_ticket_copies_the_diagnosis(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    """The banner is the summary; "Copy for ticket" puts the ticket text (summary, where, steps) on the clipboard."""
    ctx, page, watch = open_page(browser, server)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page.fill("#input", b64(signed_response(spec=ResponseSpec(audience="https://sp.example.com/saml/metadata/"))))
    page.click("summary")
    page.fill("textarea[name=metadata]", metadata().decode())
    page.fill("input[name=sp_entity_id]", SP_ENTITY_ID)
    page.fill("input[name=now]", "2026-03-01T12:01:00Z")
    page.click("button.primary")
    page.wait_for_selector("#copy-ticket")
    headline = page.inner_text("#verdict .headline")
    page.click("#copy-ticket")
    page.wait_for_selector("#copy-ticket.done")  # the shared copy handler marks the button when done
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(headline.split(" (differences")[0].replace("`", "")[:40]) or copied.startswith(
        "The Audience"
    )
    assert "Where: Enterprise applications → <app> → Single sign-on → Basic SAML Configuration" in copied
    assert "Steps:" in copied and "https://sp.example.com/saml/metadata/" in copied
    shot(page, "copy-for-ticket")
    watch.assert_clean()
    ctx.close()
