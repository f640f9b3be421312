"""A capture read through an mmap gives its pages back while the decoder goes on (samldebug/har.py _PageRelease):
`samldebug analyze big.har` stays far below the file's size in resident memory, the capture read is the same with
and without page release (and with a release that is deliberately wrong), and a platform or map that cannot
release still reads the same capture."""

from __future__ import annotations

import json
import mmap
import random
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import harfactory as hf
import pytest
from factory import T0

from samldebug import har
from samldebug.config import Limits
from samldebug.har import Capture, read_capture

LIMITS = Limits()
GOLDEN = Path(__file__).parent / "golden" / "captures"
CAPTURES = sorted(GOLDEN.glob("*.har")) + sorted(GOLDEN.glob("*.tracer.json"))
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
linux_only = pytest.mark.skipif(not Path("/proc/self/smaps").is_file(), reason="reads /proc (Linux)")


def chrome_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def flow() -> hf.Flow:
    return hf.concat(hf.sp_initiated(T0), hf.error_flow(T0 + timedelta(minutes=5)))


def _filler(i: int, rng: random.Random, when: str) -> dict[str, Any]:
    """An unrelated Chrome-shaped entry: two in three carry a 16-160 KiB script body, the rest none (a 304)."""
    body = rng.randbytes(rng.randint(8, 80) * 1024).hex() if i % 3 else None
    content: dict[str, Any] = {"size": len(body or ""), "mimeType": "application/javascript" if body else "x-unknown"}
    if body is not None:
        content["text"] = body
    headers = [{"name": "accept", "value": "*/*"}, {"name": "user-agent", "value": UA}]
    return {
        "_resourceType": "script",
        "request": {"method": "GET", "url": f"https://cdn.example.net/{i}.js", "headers": headers, "cookies": []},
        "response": {
            "status": 200 if body else 304,
            "headers": [{"name": "etag", "value": f'"{rng.getrandbits(64):016x}"'}],
            "cookies": [],
            "content": content,
            "redirectURL": "",
        },
        "startedDateTime": when,
        "time": rng.random() * 100,
        "timings": {"blocked": 1.2, "dns": -1, "connect": -1, "send": 0.1, "wait": 35.5, "receive": 2.3},
    }


def write_har(path: Path, size: int) -> None:
    """A Chrome-shaped HAR of about `size` bytes: flow() in the middle of unrelated entries, times increasing."""
    log = hf.har(flow(), "chrome")["log"]
    rng = random.Random(5)
    with path.open("w", encoding="utf-8") as fh:
        head = json.dumps({k: v for k, v in log.items() if k != "entries"}, indent=2)
        fh.write('{"log": ' + head[: -len("\n}")] + ',\n  "entries": [\n')
        sep = ""

        def write(entry: dict[str, Any]) -> None:
            nonlocal sep
            fh.write(sep + json.dumps(entry, indent=2, ensure_ascii=False))
            sep = ",\n"

        for start, until in ((-timedelta(hours=1), size // 2), (timedelta(hours=1), size)):
            i = 0
            while fh.tell() < until:
                write(_filler(i, rng, chrome_time(T0 + start + timedelta(milliseconds=7 * i))))
                i += 1
            if start < timedelta(0):
                for entry in log["entries"]:
                    write(entry)
        fh.write("\n  ]\n}}\n")


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("release") / "big.har"
    write_har(path, 24 * 1024 * 1024)
    return path


def read_mapped(path: Path) -> tuple[Capture, int]:
    """The capture read from a read-only map of `path`, and how many KiB of the map were resident afterwards."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        capture = read_capture(mm, LIMITS)
        return capture, mapped_kib(path)


def mapped_kib(path: Path) -> int:
    """Resident KiB of this process's mappings of `path` (/proc/self/smaps: file pages this process has mapped)."""
    smaps = Path("/proc/self/smaps")
    if not smaps.is_file():
        return 0  # not Linux: the tests that look at it are skipped
    total, inside = 0, False
    for line in smaps.read_text().splitlines():
        first = line.split(maxsplit=1)[0]
        if "-" in first and not first.endswith(":"):  # a mapping's header line: "start-end perms offset dev inode path"
            inside = line.endswith(" " + str(path))
        elif inside and first == "Rss:":
            total += int(line.split()[1])
    return total


@pytest.fixture
def no_release(monkeypatch: pytest.MonkeyPatch) -> None:
    """A platform without MADV_DONTNEED (macOS has it, Windows has no madvise at all)."""
    monkeypatch.delattr(mmap, "MADV_DONTNEED")


# --- the same capture, released or not ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_golden_captures_read_the_same_with_pages_released(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every golden capture (each browser's HAR shape, SAML-tracer): read from a map that releases a page at every
    chance, exactly what the bytes give."""
    monkeypatch.setattr(har, "RELEASE_STEP", mmap.PAGESIZE)
    monkeypatch.setattr(har, "_FIND_EVERY", 1)
    assert read_mapped(path)[0] == read_capture(path.read_bytes(), LIMITS)


@linux_only
def test_a_large_capture_reads_the_same_and_its_pages_are_given_back(
    big: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = read_capture(big.read_bytes(), LIMITS)
    assert want.total_entries > 100 and len(want.entries) >= 4  # the flows in the middle were found
    released, resident = read_mapped(big)
    assert released == want
    size_kib = big.stat().st_size // 1024
    assert resident < 0.15 * size_kib, (resident, size_kib)

    # What the design promises: what stays mapped is the last step and the last entries. With small steps, any read
    # of a page after its release (each maps a 64 KiB fault-around block back in, for good) would show.
    monkeypatch.setattr(har, "RELEASE_STEP", 64 * 1024)
    stepped, resident = read_mapped(big)
    assert stepped == want
    assert resident < 1024, resident
    monkeypatch.undo()

    monkeypatch.delattr(mmap, "MADV_DONTNEED")
    kept, resident = read_mapped(big)
    assert kept == want
    assert resident > 0.9 * size_kib  # without release every page the decoder read is still mapped


@linux_only
def test_a_capture_without_bodies_is_given_back_too(tmp_path: Path) -> None:
    """No body to find (a HAR saved without content): the entries' startedDateTime says where the decoder is."""
    doc = json.loads(hf.dumps(hf.har(flow(), "chrome")))
    rng = random.Random(9)
    fillers = [_filler(3 * i, rng, chrome_time(T0 + timedelta(hours=1, seconds=i))) for i in range(20000)]
    doc["log"]["entries"] += fillers
    path = tmp_path / "bodiless.har"
    path.write_bytes(hf.dumps(doc))
    released, resident = read_mapped(path)
    assert released == read_capture(path.read_bytes(), LIMITS)
    assert resident < 0.15 * path.stat().st_size // 1024


@linux_only
def test_equal_times_do_not_leave_the_release_behind(tmp_path: Path) -> None:
    """A tool that wrote one time for every entry: each entry is found in turn, so release keeps up."""
    doc = json.loads(hf.dumps(hf.har(flow(), "chrome")))
    rng = random.Random(9)
    same = chrome_time(T0 + timedelta(hours=1))
    doc["log"]["entries"] += [_filler(3 * i, rng, same) for i in range(20000)]
    path = tmp_path / "same_time.har"
    path.write_bytes(hf.dumps(doc))
    released, resident = read_mapped(path)
    assert released == read_capture(path.read_bytes(), LIMITS)
    assert resident < 0.15 * path.stat().st_size // 1024


def test_a_wrong_offset_only_costs_a_second_read(big: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Releasing pages the decoder has not read yet (the whole map, after every entry) changes nothing: the page
    cache still holds them and the next read faults them in again. So an offset estimate that is off is harmless."""
    calls = 0

    def release_everything(self: har._PageRelease, raw: object) -> None:
        nonlocal calls
        calls += 1
        self._map.madvise(mmap.MADV_DONTNEED)

    monkeypatch.setattr(har._PageRelease, "passed", release_everything)
    assert read_mapped(big)[0] == read_capture(big.read_bytes(), LIMITS)
    assert calls > 50


def tracer_filler(i: int, rng: random.Random) -> dict[str, Any]:
    """An unrelated SAML-tracer request (headers only: the extension never records bodies)."""
    headers = [{"name": "Host", "value": "cdn.example.net"}, {"name": "User-Agent", "value": UA}]
    headers += [{"name": f"X-Trace-{k}", "value": rng.randbytes(48).hex()} for k in range(rng.randint(2, 12))]
    return {
        "method": "GET",
        "url": f"https://cdn.example.net/{i}/{rng.getrandbits(48):012x}.js",
        "requestId": str(9000 + i),
        "requestHeaders": headers,
        "get": [],
        "responseStatus": 200,
        "responseStatusText": "HTTP/2 200 OK",
        "responseHeaders": [{"name": "Content-Type", "value": "application/javascript"}],
    }


def tracer_export(n: int) -> dict[str, Any]:
    """flow() as SAML-tracer exports it, after n unrelated requests."""
    doc = json.loads(hf.dumps(hf.saml_tracer(flow())))
    rng = random.Random(4)
    doc["requests"] = [tracer_filler(i, rng) for i in range(n)] + doc["requests"]
    return doc


@linux_only
def test_a_large_saml_tracer_export_reads_the_same_and_its_pages_are_given_back(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(hf.dumps(tracer_export(12000)))
    want = read_capture(path.read_bytes(), LIMITS)
    assert want.format == "saml-tracer" and len(want.entries) >= 4
    released, resident = read_mapped(path)
    assert released == want
    assert resident < 0.15 * path.stat().st_size // 1024


@linux_only
def test_a_polled_url_does_not_leave_the_release_behind(tmp_path: Path) -> None:
    """SAML-tracer requests are found by their URL: one URL polled thousands of times is found request by request,
    so release keeps up."""
    doc = tracer_export(12000)
    for r in doc["requests"][:12000]:
        r["url"] = "https://app.example.net/api/status?poll=1"
    path = tmp_path / "polled.json"
    path.write_bytes(hf.dumps(doc))
    released, resident = read_mapped(path)
    assert released == read_capture(path.read_bytes(), LIMITS)
    assert resident < 0.15 * path.stat().st_size // 1024


def test_a_saml_tracer_request_of_another_shape_is_skipped_alone(tmp_path: Path) -> None:
    """A request the fast path's struct refuses sends the reader back to the start, request by request: that one
    is counted unreadable, every other is read, numbered as before."""
    clean = tracer_export(3)
    odd = json.loads(json.dumps(clean))
    odd["requests"][1]["post"] = "not a list of pairs"
    odd["requests"][2] = "not an object"
    path = tmp_path / "odd.json"
    path.write_bytes(hf.dumps(odd))
    got = read_capture(path.read_bytes(), LIMITS)
    want = read_capture(hf.dumps(clean), LIMITS)
    assert got.dropped["unreadable_entries"] == 2
    assert got.entries == want.entries and got.total_entries == want.total_entries
    assert got.exported_at == want.exported_at
    assert read_mapped(path)[0] == got


# --- when pages cannot or must not be released -------------------------------------------------------------------


@pytest.mark.usefixtures("no_release")
def test_without_madv_dontneed_nothing_is_released_and_the_capture_is_the_same(big: Path) -> None:
    assert not hasattr(mmap, "MADV_DONTNEED")
    with big.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        assert har._PageRelease.of(mm, memoryview(mm)) is None
        assert read_capture(mm, LIMITS) == read_capture(big.read_bytes(), LIMITS)


class _Refusing(mmap.mmap):
    """A map whose madvise fails (a kernel or file system that refuses the advice)."""

    calls = 0

    def madvise(self, *args: int) -> None:
        type(self).calls += 1
        raise OSError(22, "Invalid argument")


def test_a_refused_madvise_stops_releasing_and_keeps_the_result(big: Path) -> None:
    with big.open("rb") as fh, _Refusing(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        assert read_capture(mm, LIMITS) == read_capture(big.read_bytes(), LIMITS)
    assert _Refusing.calls == 1  # tried once, then never again for this read


@pytest.mark.parametrize("access", [mmap.ACCESS_COPY, mmap.ACCESS_WRITE])
def test_only_read_only_maps_are_released(tmp_path: Path, access: int) -> None:
    """A private copy-on-write map may hold writes that MADV_DONTNEED would throw away: never released (nor a
    writable shared one, which this reader has no business advising)."""
    path = tmp_path / "c.har"
    path.write_bytes(hf.dumps(hf.har(flow(), "chrome")))
    with path.open("r+b") as fh, mmap.mmap(fh.fileno(), 0, access=access) as mm:
        assert har._PageRelease.of(mm, memoryview(mm)) is None
        assert read_capture(mm, LIMITS) == read_capture(path.read_bytes(), LIMITS)
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        assert har._PageRelease.of(mm, memoryview(mm)) is not None
    assert har._PageRelease.of(path.read_bytes(), memoryview(b"")) is None


def test_the_slow_path_reads_the_same_from_a_releasing_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry of an unexpected shape sends the reader back to the start (entry by entry): the second pass gets its
    own release, and the capture is the one the bytes give."""
    monkeypatch.setattr(har, "RELEASE_STEP", mmap.PAGESIZE)
    doc = json.loads(hf.dumps(hf.har(flow(), "chrome")))
    rng = random.Random(3)
    later = [chrome_time(T0 + timedelta(hours=1, seconds=i)) for i in range(40)]
    doc["log"]["entries"] += [_filler(i, rng, when) for i, when in enumerate(later)]
    doc["log"]["entries"][-3]["response"]["status"] = [200]
    path = tmp_path / "odd.har"
    path.write_bytes(hf.dumps(doc))
    released, _ = read_mapped(path)
    assert released == read_capture(path.read_bytes(), LIMITS)
    assert released.dropped["unreadable_entries"] == 1


# --- the CLI, in a child process -----------------------------------------------------------------------------------

_PEAK = (
    "import sys, runpy; sys.argv=['samldebug', *sys.argv[1:]]"
    "\ntry: runpy.run_module('samldebug', run_name='__main__')\nexcept SystemExit as e: code=e.code"
    "\nhwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]"
    "\nprint('RSS_KB', hwm, file=sys.stderr)"
)


def cli_peak(path: Path) -> tuple[dict[str, Any], int]:
    """`samldebug analyze PATH --format json` in a child: its report and its peak resident set in KiB (VmHWM, which
    counts the mapped file's pages too; not ru_maxrss, which a child inherits from the forking pytest process)."""
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK, "analyze", str(path), "--format", "json", "--now", "2026-03-01T13:00:00Z"],
        capture_output=True,
        timeout=120,
    )
    assert b"RSS_KB" in proc.stderr, proc.stderr[-2000:]
    return json.loads(proc.stdout), int(proc.stderr.decode().split("RSS_KB")[1].split()[0])


@linux_only
def test_cli_on_a_40_mib_har_grows_by_less_than_015_of_the_file(tmp_path: Path) -> None:
    """The issue's target, loosely: the peak resident set of `samldebug analyze big.har` grows by less than 0.15 ×
    the file over the same command on a tiny capture holding the same flows (before: 1.0 ×, the whole file)."""
    big, tiny = tmp_path / "big.har", tmp_path / "tiny.har"
    write_har(big, 40 * 1024 * 1024)
    tiny.write_bytes(hf.dumps(hf.har(flow(), "chrome")))
    small_report, small_kib = min((cli_peak(tiny) for _ in range(2)), key=lambda r: r[1])
    big_report, big_kib = min((cli_peak(big) for _ in range(2)), key=lambda r: r[1])
    info, small_info = big_report["input"]["capture"], small_report["input"]["capture"]
    assert info["entries"] > small_info["entries"] + 300
    assert (info["saml_entries"], info["error_entries"]) == (small_info["saml_entries"], small_info["error_entries"])
    assert [f["code"] for f in big_report["findings"]] == [f["code"] for f in small_report["findings"]]
    growth = (big_kib - small_kib) / (big.stat().st_size / 1024)
    assert growth < 0.15, f"peak RSS {big_kib} KiB vs {small_kib} KiB: {growth:.3f} × the file"
