#!/usr/bin/env python3
"""Runs datatrove's GopherQuality, GopherRepetition and C4Quality filters over a
JSONL file with one process per core; writes the kept ids, prints JSON stats.

    datatrove_filter.py INPUT.jsonl KEPT_IDS.txt
"""
import json
import multiprocessing as mp
import os
import sys
import time

FILTERS = None


def init():
    global FILTERS
    from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter
    FILTERS = [GopherQualityFilter(), GopherRepetitionFilter(), C4QualityFilter()]


def keep(line):
    from datatrove.data import Document
    row = json.loads(line)
    doc = Document(text=row["text"], id=str(row["id"]))
    for f in FILTERS:
        r = f.filter(doc)
        ok = r[0] if isinstance(r, tuple) else r
        if not ok:
            return None
    return row["id"]


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        lines = f.readlines()
    size = os.path.getsize(src)
    start = time.time()
    with mp.Pool(os.cpu_count(), initializer=init) as pool:
        kept = [k for k in pool.imap(keep, lines, chunksize=64) if k is not None]
    secs = time.time() - start
    with open(out, "w") as f:
        f.writelines(f"{k}\n" for k in kept)
    print(json.dumps({"seconds": secs, "bytes": size, "docs": len(lines), "kept": len(kept)}))


if __name__ == "__main__":
    main()
