#!/usr/bin/env python3
"""Peers for bench/dedup.sh, and scoring.

    dedup_peers.py datasketch CORPUS REMOVED_OUT
    dedup_peers.py rensa CORPUS REMOVED_OUT
    dedup_peers.py score CORPUS TRUTH REMOVED...

Every tool gets the same shingles: sift's normalization (NFKC, lowercase,
numerals → 0, other non-alphanumerics → space) and word 5-grams, a shorter
text being one shingle; threshold 0.8 and 128 permutations. A document is
removed when it is a near duplicate of an earlier kept one.
"""
import json
import sys
import time
import unicodedata

THRESHOLD, NUM_PERM, NGRAM = 0.8, 128, 5


def normalize(text):
    out = []
    for c in unicodedata.normalize("NFKC", text).lower():
        out.append("0" if c.isnumeric() else c if c.isalnum() else " ")
    return " ".join("".join(out).split())


def shingles(text):
    words = normalize(text).split(" ")
    if len(words) < NGRAM:
        return {" ".join(words)}
    return {" ".join(words[i:i + NGRAM]) for i in range(len(words) - NGRAM + 1)}


def docs(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            yield row["id"], row["text"]


def run_datasketch(corpus, out):
    from datasketch import MinHash, MinHashLSH
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    removed = []
    for i, text in docs(corpus):
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch([s.encode() for s in shingles(text)])
        if lsh.query(m):
            removed.append(i)
        else:
            lsh.insert(str(i), m)
    return removed


def run_rensa(corpus, out):
    from rensa import RMinHash, RMinHashLSH
    lsh = RMinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, num_bands=16)
    mins = {}
    removed = []
    for i, text in docs(corpus):
        m = RMinHash(num_perm=NUM_PERM, seed=1)
        m.update(list(shingles(text)))
        # rensa's recommended check: a candidate counts only if the signatures agree.
        if any(m.jaccard(mins[c]) >= THRESHOLD for c in lsh.query(m)):
            removed.append(i)
        else:
            lsh.insert(i, m)
            mins[i] = m
    return removed


def score(corpus, truth_path, removed_paths):
    with open(truth_path) as f:
        pairs = [(int(dup), int(orig)) for dup, orig, _rate in (line.split("\t") for line in f)]
    # Only the texts of planted pairs are held (the corpus may not fit in memory).
    wanted = {i for p in pairs for i in p}
    text = {i: t for i, t in docs(corpus) if i in wanted}
    truth = set()
    planted = 0
    for dup, orig in pairs:
        planted += 1
        a, b = shingles(text[dup]), shingles(text[orig])
        if len(a & b) / len(a | b) >= THRESHOLD:
            truth.add(dup)
    print(f"planted pairs {planted}, of which true Jaccard >= {THRESHOLD}: {len(truth)}")
    for p in removed_paths:
        removed = {int(x) for x in open(p).read().split()}
        tp = len(removed & truth)
        prec = tp / len(removed) if removed else 1.0
        rec = tp / len(truth) if truth else 1.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        print(f"{p.split('/')[-1].replace('-removed.txt', ''):11} removed {len(removed):7}  precision {prec:.4f}  recall {rec:.4f}  F1 {f1:.4f}")


def main():
    mode = sys.argv[1]
    if mode == "score":
        return score(sys.argv[2], sys.argv[3], sys.argv[4:])
    start = time.time()
    removed = {"datasketch": run_datasketch, "rensa": run_rensa}[mode](sys.argv[2], sys.argv[3])
    with open(sys.argv[3], "w") as f:
        f.writelines(f"{i}\n" for i in removed)
    print(json.dumps({"seconds": time.time() - start, "removed": len(removed)}))


if __name__ == "__main__":
    main()
