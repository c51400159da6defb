#!/usr/bin/env python3
"""Edited copies of a JSONL corpus, for re-import benchmarks (deterministic).

    variants.py base.jsonl OUTDIR [--fraction 0.01] [--seed 1]

writes OUTDIR/appended.jsonl (new rows at the end), inserted.jsonl (a block
of new rows in the middle), deleted.jsonl (a block removed from the middle)
and edited.jsonl (rows edited evenly throughout), each touching `fraction`
of the rows.
"""
import json
import os
import random
import sys


def main():
    args = sys.argv[1:]
    base, outdir = args[0], args[1]
    fraction = float(args[args.index("--fraction") + 1]) if "--fraction" in args else 0.01
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 1
    rng = random.Random(seed)
    with open(base, "rb") as f:
        lines = f.readlines()
    n = len(lines)
    k = max(1, int(n * fraction))
    # New rows: existing rows with new ids and a shuffled text, so they are new content.
    def fresh(i):
        row = json.loads(rng.choice(lines))
        words = row["text"].split(" ")
        rng.shuffle(words)
        row["id"] = n + i
        row["text"] = " ".join(words)
        return (json.dumps(row, ensure_ascii=False) + "\n").encode()
    new = [fresh(i) for i in range(k)]
    os.makedirs(outdir, exist_ok=True)
    def write(name, rows):
        with open(os.path.join(outdir, name), "wb") as f:
            f.writelines(rows)
    write("appended.jsonl", lines + new)
    mid = n // 2
    write("inserted.jsonl", lines[:mid] + new + lines[mid:])
    write("deleted.jsonl", lines[:mid] + lines[mid + k:])
    edited = list(lines)
    step = n // k
    for j in range(k):
        i = j * step + rng.randrange(step)
        row = json.loads(edited[i])
        row["text"] = row["text"] + " (edited)"
        edited[i] = (json.dumps(row, ensure_ascii=False) + "\n").encode()
    write("edited.jsonl", edited)


if __name__ == "__main__":
    main()
