"""Summarise py-spy collapsed stacks (``py-spy record --format raw``), as written by
``bench/api.py --profile DIR``: the functions with the most self and inclusive samples, and the
share of the samples under chosen frames.

    python bench/stacks.py /tmp/prof/bestow-sqlite.txt [--top 30] [--under get_merchants ...]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


def function_of(frame: str) -> str:
    """``name (path/to/module.py:123)`` -> ``name (module.py)``: one entry per function."""
    frame = _LINE.sub(")", frame.strip())
    name, _, where = frame.partition(" (")
    if not where:
        return name
    path = where.rstrip(")")
    parts = path.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{name} ({short})"


def read(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stacks.append(([function_of(f) for f in stack.split(";")], int(count)))
    return stacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--under", action="append", default=[], help="report the share of samples under a frame"
    )
    args = parser.parse_args(argv)
    stacks = read(args.file)
    total = sum(count for _, count in stacks)
    if not total:
        print("no samples", file=sys.stderr)
        return 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    print(f"{total} samples\n\nself %   function")
    for name, count in own.most_common(args.top):
        print(f"{100 * count / total:6.1f}   {name}")
    print("\ninclusive %   function")
    for name, count in inclusive.most_common(args.top):
        print(f"{100 * count / total:6.1f}   {name}")
    if args.under:
        print("\nunder frame (substring)   %")
        for needle in args.under:
            hit = sum(c for frames, c in stacks if any(needle in f for f in frames))
            print(f"{needle:<26}{100 * hit / total:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
