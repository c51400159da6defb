#!/usr/bin/env python3
"""Runs datatrove's LanguageFilter (fastText, as its `ft176` backend) over a
JSONL file with one process per core, with the model file given (datatrove
would download lid.176.bin; the benchmark hands it the same lid.176.ftz that
sift reads); writes the kept ids, prints JSON stats.

    datatrove_language.py INPUT.jsonl MODEL KEPT_IDS.txt [LANG] [THRESHOLD]
"""
import json
import multiprocessing as mp
import os
import sys
import time

FILTER = None


def init(model, lang, threshold):
    global FILTER
    from datatrove.pipeline.filters import LanguageFilter
    from fasttext.FastText import _FastText

    FILTER = LanguageFilter(languages=[lang], language_threshold=threshold)
    FILTER.model._model = _FastText(model)


def keep(line):
    from datatrove.data import Document

    row = json.loads(line)
    doc = Document(text=row["text"], id=str(row["id"]))
    return row["id"] if FILTER.filter(doc) else None


def main():
    src, model, out = sys.argv[1:4]
    lang = sys.argv[4] if len(sys.argv) > 4 else "en"
    threshold = float(sys.argv[5]) if len(sys.argv) > 5 else 0.65
    with open(src, encoding="utf-8") as f:
        lines = f.readlines()
    size = os.path.getsize(src)
    start = time.time()
    with mp.Pool(os.cpu_count(), initializer=init, initargs=(model, lang, threshold)) as pool:
        kept = [k for k in pool.imap(keep, lines, chunksize=64) if k is not None]
    secs = time.time() - start
    with open(out, "w") as f:
        f.writelines(f"{k}\n" for k in kept)
    print(json.dumps({"seconds": secs, "bytes": size, "docs": len(lines), "kept": len(kept)}))


if __name__ == "__main__":
    main()
