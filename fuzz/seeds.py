"""Write the seed corpus for the fuzz targets: the shared SAML corpus and generated fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

CORPUS = HERE.parent.parent / "shared" / "corpus"


def main(out_dir: str) -> None:
    out = Path(out_dir)
    (out / "analyze").mkdir(parents=True, exist_ok=True)
    (out / "har").mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and path.suffix in (".xml", ".base64", ".txt") and path.stat().st_size < 256 * 1024:
            (out / "analyze" / f"corpus-{count}").write_bytes(path.read_bytes())
            count += 1
    from factory import b64, build_response, signed_response, xsw

    fixtures = [signed_response("assertion"), signed_response("both"), b64(build_response()).encode()]
    fixtures += [xsw(n) for n in range(1, 9)]
    for i, data in enumerate(fixtures):
        (out / "analyze" / f"fixture-{i}").write_bytes(data)
    try:
        from harfactory import chrome_har  # type: ignore[attr-defined]

        (out / "har" / "chrome.har").write_bytes(chrome_har())
    except (ImportError, TypeError, AttributeError):
        pass
    print(f"seeds: {count} corpus files, {len(fixtures)} fixtures → {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/fuzz")
