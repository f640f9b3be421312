"""Generate docs/findings.md from the catalog data, so the page and the engine cannot drift.

python -m samldebug.catalog.docs            # rewrite docs/findings.md
python -m samldebug.catalog.docs --check    # exit 1 when the file is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import CATEGORIES, aadsts, claims, findings, libraries, nameid_formats

TARGET = Path(__file__).resolve().parents[2] / "docs" / "findings.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    lines = [
        "# Findings, AADSTS codes and claims",
        "",
        "Generated from `samldebug/catalog/*.toml` by `python -m samldebug.catalog.docs`; do not edit by hand.",
        "",
        "## Finding codes",
        "",
    ]
    by_category: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    for code, e in sorted(findings().items()):
        by_category[e.category].append(code)
    for category, codes in by_category.items():
        if not codes:
            continue
        lines += [f"### {category}", "", "| code | severity | title | cause | fix |", "|---|---|---|---|---|"]
        for code in codes:
            e = findings()[code]
            lines.append(f"| `{code}` | {e.severity.value} | {_cell(e.title)} | {_cell(e.cause)} | {_cell(e.fix)} |")
        lines.append("")
    lines += [
        f"## AADSTS codes ({len(aadsts())})",
        "",
        "| code | title | category | SAML | fix (first step) |",
        "|---|---|---|---|---|",
    ]
    for code, a in sorted(aadsts().items(), key=lambda kv: int(kv[0])):
        saml = "yes" if a.saml else ""
        lines.append(f"| AADSTS{code} | {_cell(a.title)} | {a.category} | {saml} | {_cell(a.fix[0])} |")
    lines += ["", f"## Claims ({len(claims())})", "", "| claim | URI | usual source | notes |", "|---|---|---|---|"]
    for c in sorted(claims().values(), key=lambda c: c.key):
        lines.append(f"| {_cell(c.friendly)} | `{c.uri}` | {c.source} | {_cell(c.notes)} |")
    lines += ["", "## NameID formats", "", "| format | stable | notes |", "|---|---|---|"]
    for f in nameid_formats().values():
        lines.append(f"| `{f.uri}` | {'yes' if f.stable else 'no'} | {_cell(f.notes)} |")
    lines += ["", "## SP libraries", "", "| library | default clock skew | setting |", "|---|---|---|"]
    for lib in libraries().values():
        skew = f"{lib.default_skew_seconds} s" if lib.default_skew_seconds >= 0 else "unknown"
        lines.append(f"| {lib.name} | {skew} | {_cell(lib.skew_setting)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale: run python -m samldebug.catalog.docs", file=sys.stderr)
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
