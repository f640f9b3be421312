"""Every report we can produce validates against the JSON Schema shipped in the package."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from importlib import resources

import jsonschema
import pytest
from factory import b64, build_response, signed_response, to_bytes, xsw
from helpers import CORPUS, corpus_files, run

from samldebug.report import dumps, to_text

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
