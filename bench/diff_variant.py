#!/usr/bin/env python3
"""A copy of a JSONL corpus with a fraction of its rows changed, for bench/diff.sh.

    diff_variant.py BASE OUT [--fraction 0.01] [--seed 1]

A third of the changed rows are edited in place (a word of the text
replaced), a third deleted, and a third inserted as new rows (new ids);
positions are spread evenly at random. Deterministic by seed. Prints the
counts as JSON.
"""
import json
import random
import sys


def main():
    args = sys.argv[1:]
    base, out = args[0], args[1]
    fraction = float(args[args.index("--fraction") + 1]) if "--fraction" in args else 0.01
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 1
    rng = random.Random(seed)
    with open(base, "rb") as f:
        lines = f.readlines()
    n = len(lines)
    k = max(3, int(n * fraction)) // 3
    picked = rng.sample(range(n), 2 * k)
    edit, delete = set(picked[:k]), set(picked[k:])
    insert_at = sorted(rng.sample(range(n), k))
    next_id = n + 1_000_000
    ins = 0
    with open(out, "wb") as f:
        for i, line in enumerate(lines):
            while ins < k and insert_at[ins] == i:
                row = json.loads(rng.choice(lines))
                words = row["text"].split(" ")
                rng.shuffle(words)
                row["id"] = next_id + ins
                row["text"] = " ".join(words)
                f.write((json.dumps(row, ensure_ascii=False) + "\n").encode())
                ins += 1
            if i in delete:
                continue
            if i in edit:
                row = json.loads(line)
                words = row["text"].split(" ")
                words[rng.randrange(len(words))] = "EDITED"
                row["text"] = " ".join(words)
                line = (json.dumps(row, ensure_ascii=False) + "\n").encode()
            f.write(line)
    print(json.dumps({"rows": n, "edited": k, "deleted": k, "inserted": k}))


if __name__ == "__main__":
    main()
