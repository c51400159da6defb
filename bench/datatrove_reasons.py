#!/usr/bin/env python3
"""Runs each of datatrove's GopherQuality, GopherRepetition, C4Quality and
FineWebQuality filters (defaults) on every row of a JSONL file, one process
per core, and writes one JSON line per row: its id, each rule set's reason
to drop (null = keep), and two counts of the words datatrove's spaCy
tokenizer gives: the non-symbol words (sift's `word_count`) and the share of
words with a letter (`alpha_word_fraction`).

    datatrove_reasons.py INPUT.jsonl OUTPUT.jsonl
"""
import json
import multiprocessing as mp
import os
import sys

FILTERS = None
WORDS = None
NAMES = ["gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality"]


def init():
    global FILTERS, WORDS
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    from datatrove.utils.word_tokenizers import load_word_tokenizer

    FILTERS = [GopherQualityFilter(), GopherRepetitionFilter(), C4QualityFilter(), FineWebQualityFilter()]
    WORDS = load_word_tokenizer("en")


def reasons(line):
    from datatrove.data import Document

    row = json.loads(line)
    out = {"id": row["id"]}
    for name, f in zip(NAMES, FILTERS):
        # C4 rewrites the text it keeps; every filter sees the original.
        r = f.filter(Document(text=row["text"], id=str(row["id"])))
        ok, why = (r[0], r[1]) if isinstance(r, tuple) else (r, None)
        out[name] = None if ok else (why or "dropped")
    from datatrove.utils.text import PUNCTUATION_SET

    words = WORDS.word_tokenize(row["text"])
    out["word_count"] = sum(1 for w in words if any(c not in PUNCTUATION_SET for c in w))
    alpha = sum(1 for w in words if any(c.isalpha() for c in w))
    out["alpha_word_fraction"] = alpha / len(words) if words else 0.0
    return json.dumps(out)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        lines = f.readlines()
    init()  # fails here, not in a worker that the pool would restart forever
    with mp.Pool(os.cpu_count(), initializer=init) as pool, open(dst, "w") as out:
        for r in pool.imap(reasons, lines, chunksize=16):
            out.write(r + "\n")


if __name__ == "__main__":
    main()
