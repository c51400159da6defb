#!/usr/bin/env python3
"""The Python package against pyarrow and the CLI on one version (run by
bench/python.sh): to_arrow() against pyarrow.parquet.read_table of the same
version exported, iter_batches rows/s, and commit() of a pandas frame.

    python_bench.py STORE EXPORT_DIR JSONL NEW_STORE
"""
import json
import statistics
import sys
import time

import pyarrow.json
import pyarrow.parquet as pq

import sift_curate as sift


def median(f, n=3):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    store, export, jsonl, new_store = sys.argv[1:5]
    v = sift.Store(store).version("corpus")
    table = v.to_arrow()
    nbytes = table.nbytes
    out = {"rows": v.rows, "arrow_bytes": nbytes}
    out["to_arrow_s"] = median(v.to_arrow)
    out["read_table_s"] = median(lambda: pq.read_table(f"{export}/data"))
    out["iter_batches_s"] = median(lambda: sum(b.num_rows for b in v.iter_batches(8192)))
    out["iter_batches_shuffled_s"] = median(lambda: sum(b.num_rows for b in v.iter_batches(8192, shuffle_seed=1)))
    out["to_pandas_s"] = median(v.to_pandas, 1)
    df = pyarrow.json.read_json(jsonl).to_pandas()
    s = sift.init(new_store)
    start = time.perf_counter()
    c = s.commit(df, tag="from-pandas")
    out["commit_s"] = time.perf_counter() - start
    out["commit_rows"] = c.rows
    print(json.dumps(out))


if __name__ == "__main__":
    main()
