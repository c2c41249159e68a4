"""Refactor-equivalence check: the same suite at an older checkout and at this one must give byte-identical
``progress.csv`` files once the timing columns are dropped.

    python benchmarks/equivalence.py                      # smoke suite, base = 51ec4f7 (before issue 16)
    python benchmarks/equivalence.py --base HEAD~1 --only algorithm=mg

The base checkout is a detached ``git worktree`` under ``--cache``; its results are kept there per commit and
reused, so a second check only runs the current code. Both sides run on this machine, one thread per run,
through the CLI (``python -m mbrlbench.cli run``), with PYTHONPATH selecting the checkout.
Exit status: 0 identical, 1 some run differs or is missing (each difference printed with its first row).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = "51ec4f7"  # main before the restructuring of issue 16
# columns that measure time, not computation (mbrlbench.rundir.TIMING_COLUMNS; spelled out so that this
# script runs unchanged against checkouts that predate that module)
TIMING_COLUMNS = {"wall_time_s"}


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def checkout(commit: str, cache: Path) -> Path:
    """A detached worktree of ``commit`` (reused if present)."""
    sha = git("rev-parse", commit)
    path = cache / f"tree-{sha[:12]}"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        git("worktree", "add", "--detach", str(path), sha)
    return path


def run_suite(code: Path, suite: str, out: Path, only: list[str], jobs: int) -> None:
    """Runs ``suite`` with the package at ``code``; completed runs in ``out`` are skipped (the CLI's rule)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    cmd = [sys.executable, "-m", "mbrlbench.cli", "run", suite, "--out", str(out), "--jobs", str(jobs)]
    cmd += ["--threads-per-run", "1", "--device", "cpu"]
    for item in only:
        cmd += ["--only", item]
    where = subprocess.run(
        [sys.executable, "-c", "import mbrlbench, sys; sys.stdout.write(mbrlbench.__file__)"],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if not where.startswith(str(code)):
        sys.exit(f"PYTHONPATH={code} imports mbrlbench from {where}: cannot select the checkout")
    subprocess.run(cmd, env=env, check=False, cwd=code)


def without_timing(path: Path) -> str:
    """The CSV's text with the timing columns removed, every other byte kept."""
    rows = list(csv.reader(io.StringIO(path.read_text(), newline="")))
    keep = [i for i, name in enumerate(rows[0]) if name not in TIMING_COLUMNS]
    return "".join(",".join(row[i] for i in keep) + "\n" for row in rows)


def compare(base: Path, current: Path) -> list[str]:
    """One line per run folder of this check whose CSV differs from the base's or is missing there."""
    problems = []
    names = {p.relative_to(current) for p in current.rglob("progress.csv")}
    for name in sorted(names):
        a, b = base / name, current / name
        if not a.exists() or not b.exists():
            problems.append(f"{name.parent}: missing at {'base' if not a.exists() else 'current'}")
            continue
        ta, tb = without_timing(a), without_timing(b)
        if ta != tb:
            la, lb = ta.splitlines(), tb.splitlines()
            i = next((i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y), min(len(la), len(lb)))
            problems.append(
                f"{name.parent}: differs at line {i + 1}\n  base:    {la[i] if i < len(la) else '<none>'}\n"
                f"  current: {lb[i] if i < len(lb) else '<none>'}"
            )
    if not names:
        problems.append("the current code wrote no progress.csv")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=BASE, help="older commit to compare with (default: %(default)s)")
    parser.add_argument("--suite", default="smoke", help="suite file or built-in name (default: smoke)")
    parser.add_argument("--only", action="append", default=[], help="KEY=VALUE slice, as mbrlbench run --only")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once on each side")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/mbrlbench-equivalence"))
    args = parser.parse_args()
    base_sha = git("rev-parse", args.base)[:12]
    base_out = args.cache / f"results-{base_sha}"
    current_out = args.cache / "results-current"
    if current_out.exists():
        subprocess.run(["rm", "-rf", str(current_out)], check=True)
    suite = str(Path(args.suite).resolve()) if Path(args.suite).exists() else args.suite
    run_suite(checkout(args.base, args.cache), suite, base_out, args.only, args.jobs)
    run_suite(ROOT, suite, current_out, args.only, args.jobs)
    problems = compare(base_out, current_out)
    for line in problems:
        print(line)
    n = len(list(current_out.rglob("progress.csv")))
    print(f"{'DIFFERENT' if problems else 'identical'}: {n} runs of {args.suite} against {base_sha}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
