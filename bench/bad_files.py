"""Hostile-file benchmark: every file of the bad-file corpus is refused within 2 s and 256 MB.

    .venv/bin/python bench/bad_files.py [--repeat 3]

The corpus comes from tests/fixtures/bad_files.py (generated, never committed).
Each file is read by ``read_table`` in a fresh child process, so the peak
resident memory (``VmHWM``) is that file's alone; the child also runs under
``RLIMIT_AS`` = 1 GB so a regression fails fast instead of taking the machine.

Baseline, same run: a child that reads a correct one-row workbook (the
interpreter, Flask, SQLModel and openpyxl imported, as in a worker) and one
that reads a correct 5,000-row workbook, so each refusal is shown as time and
memory above what a normal upload costs. Budgets (issue 13): refusal ≤ 2 s
(median of ``--repeat`` runs), peak RSS ≤ 256 MB. Exit status 1 when one is
missed or a file is not refused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures import bad_files  # noqa: E402
from tests.fixtures.workspace import row, xlsx_bytes  # noqa: E402

TIME_BUDGET_S = 2.0
MEMORY_BUDGET_MB = 256

CHILD = """
import json, resource, sys, time
from catalogue.imports.bounds import ImportFileError
from catalogue.imports.files import read_table
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
data = open(sys.argv[1], "rb").read()
def hwm():
    # VmHWM belongs to this process image; ru_maxrss would carry the parent's peak over exec.
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
before = hwm()
start = time.perf_counter()
try:
    table = read_table(data)
    outcome = f"read {len(table.rows)} rows"
except ImportFileError as exc:
    outcome = "refused: " + str(exc)
except MemoryError:
    outcome = "MemoryError"
seconds = time.perf_counter() - start
result = {"seconds": seconds, "peak_mb": hwm() / 1024, "before_mb": before / 1024}
print(json.dumps({**result, "outcome": outcome}))
"""


def measure(path: Path, repeat: int) -> dict[str, object]:
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=120, cwd=ROOT
        )
        if done.returncode != 0:
            return {
                "seconds": float("inf"),
                "peak_mb": float("inf"),
                "outcome": "crashed: " + done.stderr[-200:],
            }
        runs.append(json.loads(done.stdout))
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "outcome": runs[0]["outcome"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        baselines = {
            "control: 1 correct row": xlsx_bytes([row(1)]),
            "control: 5,000 correct rows": xlsx_bytes([row(i) for i in range(5000)]),
        }
        base: dict[str, dict[str, object]] = {}
        for name, data in baselines.items():
            path = tmp / "control.xlsx"
            path.write_bytes(data)
            base[name] = measure(path, args.repeat)
        one = base["control: 1 correct row"]
        print(f"{'file':28} {'size':>9} {'time s':>7} {'× 1-row':>8} {'peak MB':>8} {'+MB':>6}  outcome")
        for name, result in base.items():
            data = baselines[name]
            print(
                f"{name:28} {len(data) / 1024:8.0f}K {result['seconds']:7.3f} "
                f"{result['seconds'] / one['seconds']:8.1f} {result['peak_mb']:8.0f} "  # type: ignore[operator]
                f"{result['peak_mb'] - one['peak_mb']:6.0f}  {str(result['outcome'])[:60]}"  # type: ignore[operator]
            )
        for name, (build, _, _) in sorted(bad_files.CORPUS.items()):
            data, _ = build()
            path = tmp / name
            path.write_bytes(data)
            result = measure(path, args.repeat)
            seconds, peak = float(result["seconds"]), float(result["peak_mb"])  # type: ignore[arg-type]
            ok = str(result["outcome"]).startswith("refused") and seconds <= TIME_BUDGET_S
            ok = ok and peak <= MEMORY_BUDGET_MB
            failed |= not ok
            print(
                f"{name:28} {len(data) / 1024:8.0f}K {seconds:7.3f} "
                f"{seconds / float(one['seconds']):8.1f} {peak:8.0f} "  # type: ignore[arg-type]
                f"{peak - float(one['peak_mb']):6.0f}  {'' if ok else 'OVER BUDGET '}"  # type: ignore[arg-type]
                f"{str(result['outcome'])[:60]}"
            )
    verdict = "MISSED" if failed else "met"
    print(f"budgets: refusal ≤ {TIME_BUDGET_S} s, peak RSS ≤ {MEMORY_BUDGET_MB} MB — {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
