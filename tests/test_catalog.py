"""The catalog is data and complete: every code the engine can emit has an entry with a fix."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from samldebug import catalog

SRC = Path(__file__).resolve().parent.parent / "samldebug"


def _strings(node: ast.expr | None) -> set[str]:
    """The string constants an expression can evaluate to (a constant, either branch of `a if c else b`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    return set()


def _assigned(function: ast.AST, name: str) -> set[str]:
    """Constants assigned to `name` in a function: `name = ...`, `name, other = "a", "b"`."""
    out: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == name:
                    out |= _strings(node.value)
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    for t, v in zip(target.elts, node.value.elts, strict=False):
                        if isinstance(t, ast.Name) and t.id == name:
                            out |= _strings(v)
    return out


def _is_finding_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not node.args:
        return False
    f = node.func
    return (isinstance(f, ast.Name) and f.id == "finding") or (isinstance(f, ast.Attribute) and f.attr == "finding")


def _call_arguments(trees: list[ast.Module], function: str, index: int, name: str) -> set[str]:
    """Constants passed for parameter `name` (position `index`) wherever `function` is called."""
    out: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if not (
                (isinstance(f, ast.Name) and f.id == function) or (isinstance(f, ast.Attribute) and f.attr == function)
            ):
                continue
            if index < len(node.args):
                out |= _strings(node.args[index])
            out |= set().union(*(_strings(k.value) for k in node.keywords if k.arg == name))
    return out


def emitted_codes() -> tuple[set[str], list[str]]:
    """Every code passed to finding(...): literals, and variables whose values can be read from the enclosing
    function (assignments, or the constants its callers pass). Also returns the calls it could not resolve."""
    trees = [ast.parse(py.read_text(), str(py)) for py in sorted(SRC.rglob("*.py"))]
    found: set[str] = set()
    unresolved: list[str] = []
    for tree in trees:
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            params = [a.arg for a in function.args.args]
            for call in ast.walk(function):
                if not _is_finding_call(call):
                    continue
                first = call.args[0]  # type: ignore[attr-defined]
                codes = _strings(first)
                if isinstance(first, ast.Name):
                    codes |= _assigned(function, first.id)
                    if first.id in params:
                        codes |= _call_arguments(trees, function.name, params.index(first.id), first.id)
                # Re-emitting another Finding's code (f.code) or a code from data the catalog loader already
                # checked (splib.toml's message.finding) passes a code that exists by construction.
                passthrough = isinstance(first, ast.Attribute) and first.attr in ("code", "finding")
                if not codes and not passthrough:
                    unresolved.append(f"{tree.body and getattr(function, 'name', '?')}:{call.lineno}")
                found |= codes
    return found, unresolved


def test_every_emitted_code_has_an_entry() -> None:
    codes, unresolved = emitted_codes()
    assert len(codes) > 30
    missing = codes - set(catalog.findings())
    assert not missing
    assert unresolved == []  # a finding(code, ...) whose code cannot be read would escape this check


def test_codes_passed_in_variables_are_seen() -> None:
    """finding(code, ...) with a variable: the values assigned in the function or passed by its callers count."""
    codes, _ = emitted_codes()
    assert {"request_destination_mismatch", "logout_destination_mismatch"} <= codes  # a conditional expression
    assert {"fetch_host_not_allowed", "fetch_connect_failed"} <= codes  # a parameter / a tuple assignment


def test_entries_are_well_formed() -> None:
    for code, e in catalog.findings().items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code)
        assert e.title and e.cause and e.fix
        assert e.category in catalog.CATEGORIES


def test_issue_codes_exist() -> None:
    required = (
        "xsw signed_by_unknown_key keyinfo_cert_mismatch cert_rolled digest_mismatch sha1_signature "
        "hmac_signature disallowed_transform unsigned_assertion comment_in_nameid audience_mismatch expired "
        "not_yet_valid recipient_mismatch destination_mismatch issuer_mismatch in_response_to_present "
        "encrypted idp_error_status authn_request deflated xxe_blocked entity_expansion_blocked "
        "oversized_input invalid_base64 not_saml"
    ).split()
    assert set(required) <= set(catalog.findings())


def test_attacks_are_flagged_as_attacks() -> None:
    for code in (
        "xsw",
        "hmac_signature",
        "disallowed_transform",
        "xxe_blocked",
        "entity_expansion_blocked",
        "comment_in_nameid",
        "keyinfo_key_mismatch",
    ):
        assert catalog.entry(code).attack, code


def test_core_does_not_import_flask() -> None:
    import subprocess
    import sys

    code = "import sys, samldebug, samldebug.cli; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_data_file_entries_are_checked_by_their_schema() -> None:
    """The data files' shapes are msgspec Structs: a missing or empty text, an unknown category or an unknown key
    fails loading with the entry named."""
    import pytest

    from samldebug.catalog import CatalogError, _entry

    good = {"severity": "error", "category": "config", "title": "t", "cause": "c", "fix": "f"}
    assert _entry("x", good).severity.value == "error"
    for bad in ({**good, "fix": "  "}, {**good, "category": "nope"}, {**good, "extra": 1}, {"severity": "error"}):
        with pytest.raises(CatalogError, match=r"findings.toml \[x\]"):
            _entry("x", bad)
