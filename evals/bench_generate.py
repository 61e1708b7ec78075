"""Benchmark: how long the synthetic generator takes for N receipts (the demo and the tests
generate hundreds; the goal is 50 receipts in under 10 s on one core).

    python -m evals.bench_generate [--n 50] [--repeat 3]

Prints one JSON object: wall and CPU seconds per repetition, their medians, and receipts/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from docasset.sim.synthetic.generate import generate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args(argv)
    wall, cpu = [], []
    for r in range(a.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            w0, c0 = time.perf_counter(), time.process_time()
            generate(Path(tmp), a.n, seed=9 + r)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
    med = statistics.median(wall)
    out = {
        "receipts": a.n,
        "wall_s": [round(x, 3) for x in wall],
        "cpu_s": [round(x, 3) for x in cpu],
        "median_wall_s": round(med, 3),
        "median_cpu_s": round(statistics.median(cpu), 3),
        "receipts_per_s": round(a.n / med, 2),
        "goal": "50 receipts < 10 s",
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
