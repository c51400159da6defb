#!/usr/bin/env python3
"""Deterministic text corpus for sift's examples and benchmarks.

Documents are built from real English prose: the docstrings of the Python
standard library that runs this script (read with `ast`, never imported).
Each document has an id, a source, a url and a text of a few paragraphs;
a fraction are low-quality (boilerplate, lorem ipsum, code, link lists) so
quality filters have something to remove, and --dup-rate plants exact and
near duplicates at known edit rates (recorded in a truth file).

    gen_corpus.py --docs 500 --seed 7 > sample.jsonl
    gen_corpus.py --bytes 1000000000 --seed 1 > big.jsonl
    gen_corpus.py --docs 1000000 --short --dup-rate 0.1 --truth t.tsv > short.jsonl
"""
import argparse
import ast
import json
import os
import random
import re
import sys
import sysconfig


def sentences():
    root = sysconfig.get_paths()["stdlib"]
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("test", "tests", "idlelib", "site-packages", "__pycache__"))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            try:
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    tree = ast.parse(f.read())
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node)
                    if not doc:
                        continue
                    for para in doc.split("\n\n"):
                        para = " ".join(para.split())
                        for s in re.split(r"(?<=[.!?])\s+", para):
                            if 30 <= len(s) <= 300 and s[0].isupper() and s[-1] in ".!?" and ">>>" not in s:
                                out.append(s)
    # Stable order and no repeats, whatever the walk order.
    return sorted(set(out))


SOURCES = ["web", "news", "forum", "wiki", "blog"]
LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua."


def good_doc(rng, pool):
    paras = []
    for _ in range(rng.randint(1, 6)):
        paras.append(" ".join(rng.choice(pool) for _ in range(rng.randint(2, 8))))
    return "\n\n".join(paras)


def short_doc(rng, pool):
    """One paragraph of 20 to 60 words: runs of 4-8 consecutive words from
    random sentences, so that two documents are near duplicates only when
    planted (whole sentences would repeat across a million short documents)."""
    want = rng.randint(20, 60)
    words = []
    while len(words) < want:
        s = rng.choice(pool).split()
        k = rng.randint(4, 8)
        at = rng.randrange(max(1, len(s) - k + 1))
        words.extend(s[at:at + k])
    text = " ".join(words[:want])
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def bad_doc(rng, pool):
    kind = rng.randrange(5)
    if kind == 0:
        return "\n".join(f"- {w}" for w in rng.choice(pool).split()[:12])
    if kind == 1:
        return (LOREM + " ") * rng.randint(1, 4) + rng.choice(pool)
    if kind == 2:
        return "function init() { var x = document.getElementById('main'); x.innerHTML = '';}\n" + rng.choice(pool)
    if kind == 3:
        return "Home | About | Contact | Login\n" * rng.randint(3, 8)
    return rng.choice(pool).split(".")[0]


def mutate(rng, text, rate):
    """Replaces a `rate` fraction of words with other words of the text."""
    words = text.split(" ")
    for i in range(len(words)):
        if rng.random() < rate:
            words[i] = rng.choice(words)
    return " ".join(words)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, help="number of documents")
    ap.add_argument("--bytes", type=int, help="stop after about this many bytes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bad-rate", type=float, default=0.1, help="fraction of low-quality documents")
    ap.add_argument("--dup-rate", type=float, default=0.0, help="fraction of documents that duplicate an earlier one")
    ap.add_argument("--short", action="store_true", help="one paragraph of 20-60 words per document (about 400 B a line)")
    ap.add_argument("--truth", help="write planted duplicate pairs (dup_id, orig_id, edit_rate) here as TSV")
    a = ap.parse_args()
    if not a.docs and not a.bytes:
        ap.error("give --docs or --bytes")
    rng = random.Random(a.seed)
    pool = sentences()
    out = sys.stdout
    truth = open(a.truth, "w") if a.truth else None
    written, i, recent = 0, 0, []
    while (a.docs is None or i < a.docs) and (a.bytes is None or written < a.bytes):
        if recent and rng.random() < a.dup_rate:
            orig_id, orig_text = rng.choice(recent)
            rate = rng.choice([0.0, 0.01, 0.03, 0.05, 0.1, 0.2])
            text = orig_text if rate == 0 else mutate(rng, orig_text, rate)
            if truth:
                truth.write(f"{i}\t{orig_id}\t{rate}\n")
        elif rng.random() < a.bad_rate:
            text = bad_doc(rng, pool)
        else:
            text = short_doc(rng, pool) if a.short else good_doc(rng, pool)
        src = rng.choice(SOURCES)
        row = {"id": i, "source": src, "url": f"https://{src}.example.org/{rng.getrandbits(40):010x}", "text": text}
        line = json.dumps(row, ensure_ascii=False) + "\n"
        out.write(line)
        written += len(line.encode())
        if a.dup_rate and len(text) > (100 if a.short else 200):
            recent.append((i, text))
            if len(recent) > 1000:
                recent.pop(rng.randrange(len(recent)))
        i += 1
    if truth:
        truth.close()


if __name__ == "__main__":
    main()
