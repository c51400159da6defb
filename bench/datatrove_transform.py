#!/usr/bin/env python3
"""Runs datatrove's PIIFormatter then ftfy.fix_text (datatrove's FTFYFormatter
calls it) over a JSONL file with one process per core; prints JSON stats.

    datatrove_transform.py INPUT.jsonl
"""
import json
import multiprocessing as mp
import os
import sys
import time

PII = None


def init():
    global PII
    from datatrove.pipeline.formatters import PIIFormatter
    PII = PIIFormatter(email_replacement="<EMAIL>", ip_replacement="<IP_ADDRESS>")


def rewrite(line):
    import ftfy
    row = json.loads(line)
    text = ftfy.fix_text(PII.format(row["text"]))
    return text != row["text"]


def main():
    src = sys.argv[1]
    with open(src, encoding="utf-8") as f:
        lines = f.readlines()
    start = time.time()
    with mp.Pool(os.cpu_count(), initializer=init) as pool:
        changed = sum(pool.imap(rewrite, lines, chunksize=64))
    secs = time.time() - start
    print(json.dumps({"seconds": secs, "bytes": os.path.getsize(src), "docs": len(lines), "changed": changed}))


if __name__ == "__main__":
    main()
