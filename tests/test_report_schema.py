"""Every report we can produce validates against the JSON Schema shipped in the package."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from factory import b64, build_response, signed_response, to_bytes, xsw
from helpers import CORPUS, corpus_files, entra_settings, run

from samldebug.pipeline import analyze
from samldebug.report import dumps, to_json, to_text

SCHEMA = json.loads(resources.files("samldebug").joinpath("schema/report-2.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _inputs() -> list:  # type: ignore[type-arg]
    items = [
        pytest.param(signed_response("assertion"), id="assertion-signed"),
        pytest.param(signed_response("both"), id="both-signed"),
        pytest.param(b64(build_response()), id="unsigned"),
        pytest.param(xsw(3), id="xsw3"),
        pytest.param("not base64 at all!", id="garbage"),
        pytest.param("", id="empty"),
        pytest.param(to_bytes(build_response())[:100], id="truncated"),
    ]
    for p in corpus_files(".xml", ".base64", ".txt"):
        items.append(pytest.param(p.read_bytes(), id=str(p.relative_to(CORPUS))))
    return items


@pytest.mark.parametrize("data", _inputs())
def test_report_matches_schema(data: bytes | str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = run(data, now=datetime(2026, 1, 1, tzinfo=UTC))
    doc = json.loads(dumps(report))
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert to_text(report).strip()


def test_schema_is_itself_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def _documents() -> list:  # type: ignore[type-arg]
    """Reports of every shape: corpus messages, signed / unsigned / attacked, a capture of several flows (timeline,
    flows, flow diagnoses), an error page beside its sign-in log (entra_errors, signins), unusable input."""
    import harfactory as hf

    signin_log = (Path(__file__).parent / "data" / "signin" / "graph_event_ca_failure.json").read_bytes()
    capture = hf.dumps(hf.har(hf.concat(hf.sp_initiated(), hf.idp_initiated(), hf.error_flow())))
    items = [
        pytest.param(signed_response("both"), {}, id="both-signed"),
        pytest.param(b64(build_response()), {}, id="unsigned"),
        pytest.param(xsw(3), {}, id="xsw3"),
        pytest.param("not base64 at all!", {}, id="garbage"),
        pytest.param(capture, {}, id="capture"),
        pytest.param(
            "AADSTS53000 Correlation ID: 5c4ee1f0-2d1a-4e6f-9b7a-000000000001", {"signin_log": signin_log}, id="signins"
        ),
    ]
    for p in corpus_files(".xml", ".base64"):
        items.append(pytest.param(p.read_bytes(), {}, id=str(p.relative_to(CORPUS))))
    return items


@pytest.mark.parametrize(("data", "kw"), _documents())
def test_cli_json_is_the_api_document_byte_for_byte(data: bytes | str, kw: dict[str, bytes]) -> None:
    """dumps (the CLI's --format json) encodes the report's dataclasses directly; to_json (the API's document,
    permalinks) makes builtins. Both must be one document: the CLI's bytes are exactly what Python's own json
    module writes for to_json's document (key order, nesting, attribute labels, lists for sequences)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = analyze(data, entra_settings(), now=datetime(2026, 1, 1, tzinfo=UTC), **kw)  # type: ignore[arg-type]
    doc = to_json(report)
    assert dumps(report) == json.dumps(doc, indent=2, ensure_ascii=False)
    assert dumps(report, indent=None) == json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    sequences = ("messages", "findings", "entra_errors", "checklist", "flows", "timeline", "flow_diagnoses")
    assert all(isinstance(doc[key], list) for key in sequences)
    for m in doc["messages"]:
        for values in (m["trusted"], m["unverified"]):
            assert values is None or all("label" in a for a in values["attributes"])
    if "signin_log" in kw:
        assert doc["signins"] is not None
