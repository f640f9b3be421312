"""The attack review's hostile inputs, each at the documented size limit: CPU seconds and peak RSS of one analysis,
each in a fresh process (tests/hostile.py measures), median of N runs, beside the floor: the same process shape
analysing one ordinary signed response. Targets: ≤ 2 s CPU and ≤ 256 MiB peak RSS per payload.

    .venv/bin/python benchmarks/bench_hostile.py [RUNS]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import hostile  # noqa: E402


def once(name: str) -> dict[str, float]:
    out = subprocess.run(  # noqa: S603 - our own helper
        [sys.executable, str(ROOT / "tests" / "hostile.py"), name], capture_output=True, text=True, check=True, cwd=ROOT
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    names = ["floor", *sorted(hostile.PASTES)]
    samples: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    for _ in range(runs):  # interleaved, so that load on the machine spreads over every payload alike
        for name in names:
            samples[name].append(once(name))
    floor_cpu = statistics.median(s["cpu"] for s in samples["floor"])
    floor_rss = statistics.median(s["rss"] for s in samples["floor"])
    print(f"{'payload':<22} {'bytes':>10} {'CPU s':>7} {'× floor':>8} {'RSS MiB':>8} {'RSS − floor':>12}  verdict")
    for name in names:
        cpu = statistics.median(s["cpu"] for s in samples[name])
        rss = statistics.median(s["rss"] for s in samples[name])
        size = int(samples[name][0]["bytes"])
        ok = cpu <= 2.0 and rss <= 256 * 1024 * 1024
        print(
            f"{name:<22} {size:>10} {cpu:>7.3f} {cpu / floor_cpu:>8.1f} {rss / 1048576:>8.0f} "
            f"{(rss - floor_rss) / 1048576:>12.0f}  {'ok' if ok else 'OVER'}"
        )


if __name__ == "__main__":
    main()
