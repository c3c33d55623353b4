"""``make bench``'s closing table: every benchmark's headline rows beside their in-run baselines."""

from __future__ import annotations

import json
import sys

from common import SUMMARY


def main() -> int:
    if not SUMMARY.exists():
        print("no benchmark figures recorded")
        return 1
    rows = [json.loads(line) for line in SUMMARY.read_text().splitlines() if line.strip()]
    bw = max(len("bench"), *(len(r["bench"]) for r in rows)) + 2
    lw = max(len("load"), *(len(r["load"]) for r in rows)) + 2
    basew = max(len("baseline"), *(len(r["baseline"]) for r in rows)) + 2
    print(f"\n{'bench':<{bw}}{'load':<{lw}}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'errors':>7}"
          f"  {'baseline':<{basew}}{'req/s':>8}{'ratio':>7}")  # fmt: skip
    for r in rows:
        ratio = r["rps"] / r["baseline_rps"] if r["baseline_rps"] else float("nan")
        print(f"{r['bench']:<{bw}}{r['load']:<{lw}}{r['rps']:>8.0f}{r['p50_ms']:>8.1f}{r['p95_ms']:>8.1f}"
              f"{r['p99_ms']:>8.1f}{r['errors']:>7}  {r['baseline']:<{basew}}{r['baseline_rps']:>8.0f}"
              f"{ratio:>7.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
