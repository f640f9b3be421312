"""A day of tickets in the page, in Debian's Chromium: settings, compare, reading and sharing. Every test runs at
1280 px and at 390 px and leaves screenshots in tests/artifacts/ (gitignored)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axe import assert_accessible
from browser import PageWatch, shot
from factory import (
    ACS_URL,
    SP_ENTITY_ID,
    T0,
    ResponseSpec,
    b64,
    build_response,
    idp_key,
    iso,
    metadata,
    signed_response,
    to_bytes,
)
from helpers import CORPUS
from webutil import live_server, make_app

WIDTHS = {"wide": (1280, 900), "narrow": (390, 844)}
AT = "2026-03-01T12:01:00Z"  # one minute after the factory's IssueInstant


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    app = make_app(tmp_path_factory.mktemp("page"))
    with live_server(app) as url:
        yield url


@pytest.fixture(params=list(WIDTHS))
def width(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Session:
    def __init__(self, browser: Any, base: str, width: str, **context: Any) -> None:
        w, h = WIDTHS[width]
        self.width = width
        self.ctx = browser.new_context(viewport={"width": w, "height": h}, **context)
        self.page = self.ctx.new_page()
        self.watch = PageWatch(self.page)
        self.base = base

    def open(self, path: str = "/") -> Any:
        self.page.goto(self.base + path)
        return self.page

    def shot(self, name: str) -> Path:
        return shot(self.page, f"{name}-{self.width}")

    def close(self) -> None:
        self.watch.assert_clean()
        self.ctx.close()


@pytest.fixture
def s(browser, server: str, width: str):  # type: ignore[no-untyped-def]
    session = Session(browser, server, width)
    yield session
    session.close()


def settings_open(page: Any) -> None:
    if not page.eval_on_selector("#settings", "d => d.open"):
        page.click("#settings > summary")


def analyse(page: Any, button: str = "#analyze-form button.primary") -> None:
    """Submit and wait for the new report (the old one is marked stale first, so it never counts)."""
    page.evaluate("() => document.querySelectorAll('#report > *').forEach(e => e.setAttribute('data-stale', ''))")
    page.click(button)
    page.wait_for_selector("#verdict:not([data-stale]), #form-error:not([data-stale])")


def in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] >= -1 and box["y"] + min(box["height"], 60) <= height


def live_regions(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "[aria-live], [role=status], [role=alert], [role=log]", "els => els.map(e => e.id || e.className)"
    )


# --- Settings for many tickets in a row ------------------------------------------------------------------


def test_settings_grouped_placeholders_not_values_verdict_visible(s: Session) -> None:
    page = s.open()
    settings_open(page)
    legends = page.locator("#settings fieldset > legend").all_inner_texts()
    assert [x.split("\n")[0].split(" one of")[0].strip() for x in legends] == [
        "What the SP expects",
        "Who signs",
        "When",
        "Keys",
    ]
    groups = {
        "#g-sp": ["sp_entity_id", "acs_url", "required_claims", "name_id_format", "expected_name_id"],
        "#g-idp": ["metadata_url", "tenant", "app_id", "metadata", "cert", "idp_entity_id"],
        "#g-when": ["now", "skew"],
        "#g-keys": ["sp_key", "sp_cert"],
    }
    for group, names in groups.items():
        for name in names:
            assert page.locator(f"{group} [name={name}]").count() == 1, (group, name)
    placeholders = page.eval_on_selector_all(
        "#analyze-form input[placeholder], #analyze-form textarea[placeholder]", "els => els.map(e => e.placeholder)"
    )
    assert len(placeholders) >= 12
    looks_like_a_value = re.compile(r"^(\d+|\S+://\S+|\d{4}-\d\d-\d\dT\S*|[\w.]+@[\w.]+|[0-9a-f-]{36}|\w+)$")
    for text in placeholders:
        assert not looks_like_a_value.match(text.strip()), text
        assert text.startswith(("not set", "Paste", "name for")), text
    s.shot("settings-open")
    assert_accessible(page, "index with settings open")
    page.fill("#input", b64(signed_response()))
    page.fill("#f-sp_entity_id", SP_ENTITY_ID)
    page.fill("#f-now", AT)
    analyse(page)
    assert page.eval_on_selector("#settings", "d => d.open")  # still open …
    assert in_viewport(page, "#verdict"), page.locator("#verdict").bounding_box()  # … and the verdict is in view
    s.shot("verdict-with-settings-open")


def test_chips_show_settings_in_effect_x_removes_new_ticket_clears(s: Session) -> None:
    page = s.open()
    settings_open(page)
    page.fill("#input", b64(signed_response()))
    page.fill("#f-sp_entity_id", "https://left-over.example.org/previous-ticket")  # from the last ticket
    page.fill("#f-now", AT)
    page.fill("#f-skew", "60")
    analyse(page)
    chips = page.locator("#in-effect .chip.setting").all_inner_texts()
    assert any("SP entity ID: https://left-over.example.org/previous-ticket" in c for c in chips), chips
    assert any(c.startswith("Evaluate at: " + AT) for c in chips) and any("Clock skew: 60" in c for c in chips)
    assert "audience_mismatch" in page.inner_text(".findings")
    assert in_viewport(page, "#in-effect")
    s.shot("chips")
    page.click("#in-effect .chip.setting[data-fields='sp_entity_id'] .chip-x")
    page.wait_for_selector("#in-effect .chip.setting[data-fields='sp_entity_id']", state="detached")
    assert page.input_value("#f-sp_entity_id") == ""
    assert "audience_mismatch" not in page.inner_text("#report")
    assert any("Evaluate at" in c for c in page.locator("#in-effect .chip.setting").all_inner_texts())
    page.click("#new-ticket")
    page.wait_for_load_state()
    assert page.input_value("#input") == "" and page.input_value("#f-now") == "" and page.input_value("#f-skew") == ""
    assert page.locator("#verdict").count() == 0


def test_app_profiles_live_in_the_browser_only(s: Session) -> None:
    page = s.open()
    settings_open(page)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(f"{r.method} {r.url}"))
    page.fill("#f-sp_entity_id", SP_ENTITY_ID)
    page.fill("#f-acs_url", ACS_URL)
    page.fill("#f-metadata", metadata().decode())
    page.fill("#f-sp_key", "-----BEGIN PRIVATE KEY-----\nnot kept\n-----END PRIVATE KEY-----")
    page.fill("#local-name", "ACME production")
    page.click("#local-save")
    assert requests == []  # saving talks to nobody
    stored = json.loads(page.evaluate("localStorage.getItem('samldebug.profiles.v1')"))
    assert stored["ACME production"]["sp_entity_id"] == SP_ENTITY_ID
    assert "sp_key" not in stored["ACME production"] and "input" not in stored["ACME production"]
    page.reload()
    settings_open(page)
    assert page.input_value("#f-sp_entity_id") == ""
    requests.clear()
    page.select_option("#local-profile", "ACME production")
    assert requests == []  # loading neither
    assert page.input_value("#f-sp_entity_id") == SP_ENTITY_ID and page.input_value("#f-acs_url") == ACS_URL
    assert page.locator("#local-profile").get_attribute("name") is None  # the menu itself is never submitted
    s.shot("browser-profiles")
    page.fill("#input", b64(signed_response()))
    page.fill("#f-now", AT)
    with page.expect_request(lambda r: r.url.endswith("/analyze")) as posted:
        analyse(page)
    body = posted.value.post_data_buffer or b""
    assert SP_ENTITY_ID.encode() in body and b"ACME production" not in body
    assert "Healthy sign-in" in page.inner_text("#verdict")  # the banner is the diagnosis
    page.click("#local-delete")
    assert page.evaluate("JSON.parse(localStorage.getItem('samldebug.profiles.v1'))") == {}


@pytest.mark.parametrize(
    ("box", "value", "says", "action", "lands_in"),
    [
        (
            "#f-metadata",
            "response",
            "The box for the IdP metadata holds a SAML Response",
            "message to analyse",
            "#input",
        ),
        (
            "#f-cert",
            "metadata",
            "The box for the IdP signing certificate holds IdP metadata",
            "IdP metadata",
            "#f-metadata",
        ),
        (
            "#input",
            "certificate",
            "The box for the message to analyse holds a certificate",
            "IdP signing certificate",
            "#f-cert",
        ),
    ],
)
def test_value_in_the_wrong_box_is_named_and_moved(
    s: Session, box: str, value: str, says: str, action: str, lands_in: str
) -> None:
    values = {
        "response": b64(signed_response()),
        "metadata": metadata().decode(),
        "certificate": idp_key().cert_pem.decode(),
    }
    page = s.open()
    settings_open(page)
    if box != "#input":
        page.fill("#input", b64(signed_response()) if value != "response" else "")
    page.fill(box, values[value])
    page.fill("#f-now", AT)
    analyse(page)
    note = page.locator("#misplaced li").first
    assert says in note.inner_text()
    button = note.locator("button.use-as")
    assert button.is_visible() and button.inner_text() == f"Use it as the {action}"
    s.shot(f"misplaced-{value}")
    button.click()
    page.wait_for_selector("#misplaced", state="detached")
    assert page.input_value(lands_in).strip() == values[value].strip()
    if box == "#input":  # nothing left to analyse: the message box waits for the message
        assert page.input_value("#input") == "" and page.evaluate("document.activeElement.id") == "input"
    else:
        assert page.input_value(box) == ""
        page.wait_for_selector("#verdict")
        assert page.locator("#misplaced").count() == 0


def test_no_sp_settings_says_what_was_not_checked_and_offers_the_field(s: Session) -> None:
    page = s.open()
    spec = ResponseSpec(audience="https://staging.other-app.example.net/saml")
    page.fill("#input", b64(signed_response("response", spec=spec)))
    analyse(page)
    box = page.inner_text("#not-checked")
    assert "Audience: the message says https://staging.other-app.example.net/saml" in box
    assert "Add the SP's entity ID to check the Audience" in box
    assert "Add the SP's ACS URL to check Recipient and Destination" in box
    assert "Add the App Federation Metadata Url to verify the signature" in box
    assert "audience_host_differs" in page.inner_text(".findings")
    s.shot("not-checked")
    page.click("#not-checked a.add-field[data-field=sp_entity_id]")
    assert page.eval_on_selector("#settings", "d => d.open")
    assert page.evaluate("document.activeElement.name") == "sp_entity_id"
    page.fill("#f-sp_entity_id", "https://staging.other-app.example.net/saml")
    analyse(page)
    assert "Add the SP's entity ID" not in page.inner_text("#report")
    assert "audience_host_differs" not in page.inner_text("#report")


# --- Compare ---------------------------------------------------------------------------------------------


def test_compare_files_and_own_times_no_false_differences_decisive_first(s: Session, tmp_path: Path) -> None:
    import harfactory as hf

    page = s.open("/compare")
    # A: a HAR of a working sign-in, judged when it was captured; B: a response saved to a file, judged at its time
    har = tmp_path / "working.har"
    har.write_bytes(hf.dumps(hf.har(hf.sp_initiated(), "chrome")))
    page.set_input_files("#file_a", str(har))
    failing = ResponseSpec(audience="https://sp.example.com/saml/metadata/")
    xml = tmp_path / "failing.xml"
    xml.write_bytes(signed_response(spec=failing))
    page.set_input_files("#file_b", str(xml))
    page.fill("#now_b", AT)
    page.click("#compare-form button.primary")
    page.wait_for_selector("#differences")
    assert "Judged at each message when the capture received it" in page.inner_text("#side-1 .side-time")
    assert f"Judged at {AT} (the time you gave)" in page.inner_text("#side-2 .side-time")
    assert "reject" not in page.inner_text("#side-1 h2").lower()
    assert "audience" in page.inner_text("#differences")  # B's file was read: its audience differs
    s.shot("compare-capture")

    page = s.open("/compare")
    # the same sign-in signed two ways: status and issuer are identical and must not be "differences"
    failing.attributes["http://schemas.microsoft.com/ws/2008/06/identity/claims/role"] = ["Admin"]
    page.fill("#input_a", b64(signed_response("assertion")))
    page.fill("#input_b", b64(signed_response("response", spec=failing)))
    page.fill("#now_a", AT)
    page.fill("#now_b", AT)
    page.click("#compare-form summary")
    page.fill("textarea[name=metadata]", metadata().decode())
    page.fill("input[name=sp_entity_id]", SP_ENTITY_ID)
    page.click("#compare-form button.primary")
    page.wait_for_selector("#differences")
    rows = page.locator("#differences tr.diff")
    fields = [r.locator("td").first.text_content() for r in rows.all()]
    assert "status" not in fields and "issuer" not in fields, fields
    decisive = page.locator("#differences > table tr.diff td:first-child").all_inner_texts()
    assert decisive[0] == "audience", decisive
    assert any("audience" in f.lower() for f in decisive)
    assert not page.eval_on_selector("#other-differences", "d => d.open")  # the rest is folded
    for row in rows.all():
        cells = row.locator("td").all_text_contents()
        assert cells[-1].strip(), cells  # a hint, or "No hint known …"
        assert cells[1] != cells[2] or len(cells) == 3, cells  # never the same value on both sides
    page.click("#other-differences > summary")
    s.shot("compare")
    assert_accessible(page, "compare")


# --- Reading and sharing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("late", "state", "caption"),
    [
        (timedelta(seconds=-30), "inside", "Inside the validity window"),
        (
            timedelta(seconds=60),
            "within_skew",
            "Inside the window only thanks to the 180 s clock-skew allowance (now = 2026-03-01T13:01:00Z",
        ),
        (timedelta(minutes=10), "outside", "Outside the validity window at the evaluation time: Expired"),
    ],
)
def test_time_bar_legible_and_agrees_with_findings(s: Session, late: timedelta, state: str, caption: str) -> None:
    end = T0 + timedelta(hours=1)  # the factory's NotOnOrAfter
    page = s.open()
    settings_open(page)
    page.fill("#input", b64(signed_response()))
    page.fill("#f-now", iso(end + late))
    analyse(page)
    bar = page.locator("#timebar-0")
    assert f"tb-{state}" in (bar.get_attribute("class") or "")
    assert caption in bar.locator(".tb-caption").inner_text()
    codes = page.locator(".findings .code, .facts .code").all_inner_texts() if page.locator(".findings").count() else []
    assert ("expired" in codes) == (state == "outside") and ("within_skew" in page.content()) == (
        state == "within_skew"
    )
    assert bar.locator("svg text").count() == 0  # no text inside the scaled drawing: nothing to cut or squeeze
    marks = bar.locator(".tb-marks li")
    boxes = [m.bounding_box() for m in marks.all()]
    viewport = page.viewport_size["width"]
    for i, a in enumerate(boxes):
        assert a and a["x"] >= 0 and a["x"] + a["width"] <= viewport + 0.5, a
        for b in boxes[i + 1 :]:
            assert b and (
                a["y"] + a["height"] <= b["y"] + 0.5
                or b["y"] + b["height"] <= a["y"] + 0.5
                or a["x"] + a["width"] <= b["x"] + 0.5
                or b["x"] + b["width"] <= a["x"] + 0.5
            ), (a, b)
    for m in marks.all():  # every label shown in full on one line of its own box
        assert m.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    bar.scroll_into_view_if_needed()
    s.shot(f"timebar-{state}")


def test_share_box_copy_buttons_ticket_text_and_permalink(browser, tmp_path: Path, width: str) -> None:  # type: ignore[no-untyped-def]
    app = make_app(tmp_path, database_url=f"sqlite:///{tmp_path / 'share.db'}")
    with live_server(app) as url:
        sess = Session(browser, url, width, permissions=["clipboard-read", "clipboard-write"])
        page = sess.open()
        settings_open(page)
        page.fill("#input", b64(signed_response(spec=ResponseSpec(audience="urn:wrong"))))
        page.fill("#f-sp_entity_id", SP_ENTITY_ID)
        page.fill("#f-now", AT)
        analyse(page)
        page.click("#share-panel summary")
        page.fill("input[name=title]", "Ticket 4711")
        page.click("#share-button")
        page.wait_for_selector("#shared")
        assert page.evaluate("document.activeElement.id") == "shared"
        box = page.inner_text("#shared")
        assert "shown only now" in box and "anyone holding it can delete the report" in box
        link, delete = page.input_value("#permalink"), page.input_value("#delete-link")
        for button, expected in (("Copy link", link), ("Copy delete link", delete)):
            page.click(f"#shared button:has-text('{button}')")
            assert page.evaluate("navigator.clipboard.readText()") == expected
        page.click("#shared button:has-text('Copy ticket text')")
        copied = page.evaluate("navigator.clipboard.readText()")
        txt_href = page.get_attribute("#shared a[download]", "href")
        assert txt_href and txt_href.endswith(".txt")
        served = page.evaluate("async u => (await fetch(u)).text()", txt_href)
        assert copied == served and "Ticket 4711" in copied and link in copied
        assert live_regions(page) == ["verdict"]
        sess.shot("share-box")
        assert_accessible(page, "report with share box")
        sess.watch.assert_clean()
        sess.ctx.close()

        other = Session(browser, url, width)
        other.page.goto(link)
        assert other.page.locator("h1").count() == 1 and "Ticket 4711" in other.page.inner_text("h1")
        assert "Add the SP's entity ID" not in other.page.content()  # nothing to add on a permalink
        other.shot("permalink")
        assert_accessible(other.page, "permalink")
        other.close()


def test_raw_xml_copy_and_long_xml_collapsed(browser, server: str, width: str) -> None:  # type: ignore[no-untyped-def]
    sess = Session(browser, server, width, permissions=["clipboard-read", "clipboard-write"])
    page = sess.open()
    raw = signed_response().decode()
    page.fill("#input", b64(raw.encode()))
    analyse(page)
    section = page.locator("#xml-0")
    assert not section.locator("details.xml-pretty").evaluate("d => d.open")  # a signed response is long
    assert "lines" in section.locator("details.xml-pretty > summary").inner_text()
    section.locator("button:has-text('Copy raw XML')").click()
    assert page.evaluate("navigator.clipboard.readText()") == raw  # the decoded XML exactly, not the pretty one
    section.locator("details.xml-raw > summary").click()
    assert section.locator("pre.raw").inner_text().startswith("<samlp:Response")
    section.scroll_into_view_if_needed()
    sess.shot("raw-xml")
    page.goto(server + "/")
    page.fill("#input", "<samlp:AuthnRequest xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol' ID='_1'/>")
    analyse(page)
    assert page.locator("#xml-0 details.xml-pretty").evaluate("d => d.open")  # short: open
    sess.close()


def test_narrow_and_wide_reading_tables_tabs_headings_live_regions(s: Session) -> None:
    page = s.open()
    settings_open(page)
    page.fill("#input", (CORPUS / "entra/aad_saml2_assertion_2017-03-20_valid.xml").read_text())
    page.fill("#f-metadata", (CORPUS / "entra/aad_common_federationmetadata.xml").read_text())
    page.fill("#f-sp_entity_id", "https://sp.example.com/saml/metadata")
    page.fill("#f-required_claims", "http://schemas.microsoft.com/identity/claims/tenantid, department")
    page.fill("#f-now", "2017-03-20T16:00:00Z")
    page.click("#settings > summary")
    analyse(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    # no word broken in the middle in any table (code values such as URIs may wrap anywhere)
    broken = page.evaluate(
        """() => {
        const out = [];
        for (const cell of document.querySelectorAll('#report td, #report th')) {
          const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
          for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            if (n.parentElement.closest('code, pre, .visually-hidden')) continue;
            const re = /[A-Za-z0-9]{2,}/g; let m;
            while ((m = re.exec(n.data))) {
              const r = document.createRange(); r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
              const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
              if (tops.size > 1) out.push(m[0]);
            }
          }
        }
        return out;
      }"""
    )
    assert broken == [], broken
    # sticky tabs never cover the section they jump to
    for link in page.locator("#message-0 nav.tabs a").all():
        target = link.get_attribute("href")
        link.click()
        page.wait_for_timeout(50)
        tabs = page.locator("#message-0 nav.tabs").bounding_box()
        heading = page.locator(f"{target} h2").bounding_box()
        assert tabs and heading and heading["y"] >= tabs["y"] + tabs["height"] - 1, (target, tabs, heading)
    # the facts that need no decision are in the Signature section, not the findings list
    findings = page.locator(".findings").inner_text() if page.locator(".findings").count() else ""
    assert "metadata_self_signed" not in findings and "cert_rollover" not in findings
    assert page.locator("#signature-0 .facts .code", has_text="metadata_self_signed").count() == 1
    assert live_regions(page) == ["verdict"]
    page.evaluate("window.scrollTo(0, 0)")
    s.shot("corpus-report")
    assert_accessible(page, "report")


@pytest.mark.parametrize("path", ["/", "/compare", "/findings", "/r/AbCdEfGhIjKlMnOpQrStUv/wrongkey", "/nowhere"])
def test_every_page_has_one_h1(s: Session, path: str) -> None:
    page = s.open(path)
    assert page.locator("h1").count() == 1, path
    s.watch.problems = [p for p in s.watch.problems if "404" not in p]  # the missing pages answer 404 on purpose


def test_index_is_accessible(s: Session) -> None:
    page = s.open()
    assert_accessible(page, "index")
    assert live_regions(page) == []


def test_error_is_shown_once_and_named(s: Session) -> None:
    page = s.open()
    page.fill("#input", " ")
    page.fill("#input", "")
    page.click("#analyze-form button.primary")
    page.wait_for_selector("#form-error")
    assert live_regions(page) == ["form-error"]
    assert "Nothing to analyse" in page.inner_text("#form-error")


def test_unsigned_xss_in_wrong_box_stays_text(s: Session) -> None:
    page = s.open()
    settings_open(page)
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    page.fill("#f-metadata", b64(to_bytes(build_response(ResponseSpec(name_id=evil)))))
    page.fill("#input", b64(to_bytes(build_response(ResponseSpec(name_id=evil)))))
    analyse(page)
    assert page.locator("#misplaced").count() == 1 and page.locator("#report img").count() == 0


def test_dark_theme_report_is_accessible(browser, server: str, width: str) -> None:  # type: ignore[no-untyped-def]
    sess = Session(browser, server, width, color_scheme="dark")
    page = sess.open()
    settings_open(page)
    page.fill("#input", b64(signed_response(spec=ResponseSpec(audience="https://sp.example.com/saml/metadata/"))))
    page.fill("#f-metadata", metadata().decode())
    page.fill("#f-sp_entity_id", SP_ENTITY_ID)
    page.fill("#f-now", AT)
    analyse(page)
    page.locator("#xml-0 details.xml-pretty > summary").click()
    sess.shot("report-dark")
    assert_accessible(page, "report, dark theme")
    sess.close()
