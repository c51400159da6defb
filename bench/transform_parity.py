"""Parity fixtures for the lines and normalize stages, from the reference
implementations themselves:

- tests/data/c4_datatrove.jsonl: datatrove's C4QualityFilter (defaults) on
  pipelines/data/web_sample.jsonl and forum.jsonl: the rewritten text of each
  kept document, or null for a dropped one.
- tests/data/mojibake_cases.jsonl and mojibake_ftfy.jsonl: mojibake made by
  encoding the sample's sentences as UTF-8 and decoding them as
  Windows-1252 or Latin-1 (once or twice), and ftfy.fix_encoding's repair.

    bench/.venv/bin/python bench/transform_parity.py
"""
import json
from pathlib import Path

import ftfy
from datatrove.data import Document
from datatrove.pipeline.filters import C4QualityFilter

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests/data"

c4 = C4QualityFilter()
with open(DATA / "c4_datatrove.jsonl", "w") as out:
    n = 0
    for name in ("web_sample.jsonl", "forum.jsonl"):
        for line in open(ROOT / "pipelines/data" / name):
            row = json.loads(line)
            doc = Document(text=row["text"], id=str(n))
            r = c4.filter(doc)
            ok = r[0] if isinstance(r, tuple) else r
            out.write(json.dumps({"id": n, "text": row["text"], "c4": doc.text if ok else None}) + "\n")
            n += 1

words = []
for line in open(ROOT / "pipelines/data/multilingual.jsonl"):
    words.append(json.loads(line)["text"])
extra = ["café crème", "naïve façade", "Straße über Köln", "don’t “quote” me — ok…", "€5 • ½ price ™", "日本語のテキスト", "emoji 👍 ok"]
cases = []
for text in words + extra:
    cases.append(text)
    for codec in ("windows-1252", "latin-1"):
        try:
            once = text.encode("utf-8").decode(codec)
        except UnicodeDecodeError:
            continue
        cases.append(once)
        try:
            cases.append(once.encode("utf-8").decode(codec))
        except UnicodeDecodeError:
            pass
cases = list(dict.fromkeys(cases))
with open(DATA / "mojibake_cases.jsonl", "w") as a, open(DATA / "mojibake_ftfy.jsonl", "w") as b:
    for i, t in enumerate(cases):
        a.write(json.dumps({"id": i, "text": t}) + "\n")
        b.write(json.dumps({"id": i, "text": ftfy.fix_encoding(t)}) + "\n")
print(n, "c4 documents,", len(cases), "mojibake cases")
