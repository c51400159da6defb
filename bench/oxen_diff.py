#!/usr/bin/env python3
"""`oxen diff` of two files through the oxenai package, for bench/diff.sh.

    oxen_diff.py A B [KEY]

Prints the number of added, removed and modified rows as JSON.
"""
import json
import sys

import oxen


def main():
    a, b = sys.argv[1], sys.argv[2]
    keys = sys.argv[3:4]
    df = oxen.diff(a, b, keys=keys).tabular.data
    status = df["_oxen_diff_status"].value_counts()
    counts = {row[0]: row[1] for row in status.iter_rows()}
    print(json.dumps({k: counts.get(k, 0) for k in ("added", "removed", "modified")}))


if __name__ == "__main__":
    main()
