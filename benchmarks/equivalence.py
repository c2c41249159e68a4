"""Refactor-equivalence check: the same suite at an older checkout and at this one must give byte-identical
``progress.csv`` files once the timing columns are dropped.

    python benchmarks/equivalence.py                      # smoke suite, base = 51ec4f7 (before issue 16)
    python benchmarks/equivalence.py --base HEAD~1 --only algorithm=mg

The base checkout is a detached ``git worktree`` under ``--cache``; its results are kept there per commit and
reused, so a second check only runs the current code. Both sides run on this machine, one thread per run,
through the CLI (``python -m mbrlbench.cli run``), with PYTHONPATH selecting the checkout.
Columns that one side writes and the other does not (a new diagnostic) are listed, not failed; every value of
every column both sides write must be identical, except the columns named by ``--allow`` (an intended change
of a diagnostic's definition), whose changes are listed with their size.
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


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """The CSV's header and rows with the timing columns removed, every other byte of each cell kept."""
    rows = list(csv.reader(io.StringIO(path.read_text(), newline="")))
    keep = [i for i, name in enumerate(rows[0]) if name not in TIMING_COLUMNS]
    return [rows[0][i] for i in keep], [[row[i] for i in keep] for row in rows[1:]]


def relative_change(a: str, b: str) -> float:
    """|b - a| / |a| of two CSV cells (inf when only one is a number, 0 when both are the same non-number)."""
    try:
        x, y = float(a), float(b)
    except ValueError:
        return 0.0 if a == b else float("inf")
    if x == y or (x != x and y != y):
        return 0.0
    return abs(y - x) / abs(x) if x else float("inf")


def compare(base: Path, current: Path, allow: frozenset[str] = frozenset()) -> tuple[list[str], list[str]]:
    """(problems, notes): one problem per run folder whose CSV differs from the base's on the columns both sides
    write (except the ``allow``ed ones), or is missing there; one note per run whose columns were added or
    removed (an intended change, e.g. a new diagnostic, is listed but does not fail the check) and per
    allowed column whose values changed (with how many rows and the largest relative change)."""
    problems, notes = [], []
    names = {p.relative_to(current) for p in current.rglob("progress.csv")}
    for name in sorted(names):
        a, b = base / name, current / name
        if not a.exists() or not b.exists():
            problems.append(f"{name.parent}: missing at {'base' if not a.exists() else 'current'}")
            continue
        (ha, ra), (hb, rb) = read_table(a), read_table(b)
        added, removed = [c for c in hb if c not in ha], [c for c in ha if c not in hb]
        if added or removed:
            notes.append(f"{name.parent}: columns added {added or '-'}, removed {removed or '-'}")
        for c in (c for c in ha if c in hb and c in allow):
            pairs = [(x[ha.index(c)], y[hb.index(c)]) for x, y in zip(ra, rb, strict=False)]
            changed = [relative_change(x, y) for x, y in pairs if x != y]
            if changed:
                notes.append(
                    f"{name.parent}: allowed column {c} differs in {len(changed)} of {len(pairs)} rows "
                    f"(largest relative change {max(changed):.3g})"
                )
        shared = [c for c in ha if c in hb and c not in allow]
        ia, ib = [ha.index(c) for c in shared], [hb.index(c) for c in shared]
        la = [",".join(row[i] for i in ia) for row in ra]
        lb = [",".join(row[i] for i in ib) for row in rb]
        if la != lb:
            i = next((i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y), min(len(la), len(lb)))
            column = ""
            if i < min(len(la), len(lb)):
                column = next(c for c, x, y in zip(shared, la[i].split(","), lb[i].split(","), strict=True) if x != y)
            problems.append(
                f"{name.parent}: differs at data row {i + 1}{f' (first column: {column})' if column else ''}\n"
                f"  base:    {la[i] if i < len(la) else '<none>'}\n  current: {lb[i] if i < len(lb) else '<none>'}"
            )
    if not names:
        problems.append("the current code wrote no progress.csv")
    return problems, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=BASE, help="older commit to compare with (default: %(default)s)")
    parser.add_argument("--suite", default="smoke", help="suite file or built-in name (default: smoke)")
    parser.add_argument("--only", action="append", default=[], help="KEY=VALUE slice, as mbrlbench run --only")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once on each side")
    parser.add_argument(
        "--allow", action="append", default=[], help="a column whose values may differ (an intended change); repeat"
    )
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
    problems, notes = compare(base_out, current_out, frozenset(args.allow))
    for line in notes + problems:
        print(line)
    n = len(list(current_out.rglob("progress.csv")))
    print(f"{'DIFFERENT' if problems else 'identical'}: {n} runs of {args.suite} against {base_sha}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
