"""Golden reports: every corpus sample and every factory-built fixture (captures in each browser's shape beside
their expected report) still gets the verdict, findings, checklist rows, flows and timeline recorded in
tests/golden. A difference is either a bug or an intended change: then run `make golden` and review the diff."""

from __future__ import annotations

import json

import pytest
from golden.regen import Case, all_cases, dumps, run

CASES = all_cases()  # raises at collection when the shared corpus is missing


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_report_matches_golden(case: Case) -> None:
    assert case.expected.is_file(), f"no golden for {case.name}: run `make golden`"
    want = json.loads(case.expected.read_text())
    got = json.loads(dumps(run(case)))
    assert got == want


def test_goldens_cover_the_corpus_and_each_browser() -> None:
    names = {c.name for c in CASES}
    assert sum(n.startswith("corpus/") for n in names) >= 60
    for shape in ("chrome", "firefox", "safari", "saml-tracer"):
        assert f"captures/sp_initiated.{shape}" in names
