"""Writes spaCy's word tokens for the texts of tests/data/spacy_cases.txt
(one text a line, `\\n` for a newline) to tests/data/spacy_tokens.jsonl:
the tokens datatrove's Gopher and C4 filters count, which sift's tokenizer
(src/stage/quality/text.rs) must give too, and the number of sentences
spaCy's sentencizer finds in each line (C4's `too_few_sentences` adds them
up).

    bench/.venv/bin/python bench/spacy_tokens.py

Needs spaCy in bench/.venv (`pip install spacy==3.8.18`).
"""

import json
import pathlib

import spacy

root = pathlib.Path(__file__).resolve().parent.parent
nlp = spacy.blank("en")
senter = spacy.blank("en")
senter.add_pipe("sentencizer")
out = []
for line in (root / "tests/data/spacy_cases.txt").read_text(encoding="utf-8").splitlines():
    if not line or line.startswith("# "):
        continue
    text = line.replace("\\n", "\n")
    # As datatrove's SpaCyTokenizer.word_tokenize: every token, stripped, empty ones left out.
    tokens = [t.text.strip() for t in nlp(text) if t.text.strip()]
    # As datatrove's C4 filter: each stripped line's sentences (span_tokenize).
    sentences = [len(list(senter(ln.strip()).sents)) for ln in text.splitlines()]
    out.append({"text": text, "tokens": tokens, "sentences": sentences})
with open(root / "tests/data/spacy_tokens.jsonl", "w", encoding="utf-8") as f:
    for o in out:
        f.write(json.dumps(o, ensure_ascii=False) + "\n")
print(f"{len(out)} texts, spaCy {spacy.__version__}")

# The tables sift's tokenizer takes from spaCy: LIST_ICONS as ranges, and
# the tokenizer exceptions that are one token (abbreviations, emoticons).
import re
from spacy.lang.char_classes import LIST_ICONS



def ranges_of(keep, start=0):
    """The code points from `start` on (surrogates aside) where keep(char) holds, as [lo, hi] ranges."""
    out = []
    for cp in range(start, 0x110000):
        if 0xD800 <= cp <= 0xDFFF or not keep(chr(cp)):
            continue
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


icons = re.compile(LIST_ICONS[0])
ranges = ranges_of(icons.fullmatch, 0x80)
specials = sorted(
    k for k, v in nlp.tokenizer.rules.items() if len(v) == 1 and k.strip() == k and k.strip()
)
# The exceptions that split into two or more tokens (`cannot` → `can` `not`,
# `dont` → `do` `nt`, `3pm` → `3` `pm`); their pieces spell the key.
ORTH = spacy.attrs.ORTH
splits = sorted(
    (k, [piece[ORTH] if ORTH in piece else piece["ORTH"] for piece in v])
    for k, v in nlp.tokenizer.rules.items()
    if len(v) >= 2 and k.strip() == k and k.strip()
)
assert all("".join(p) == k for k, p in splits)
from spacy.lang.char_classes import UNITS

units = sorted(set(UNITS.split("|")))


def rust_char(cp):
    return "'\\u{%X}'" % cp


def rust_str(s):
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else "\\u{%X}" % ord(c) for c in s) + '"'


# The sentencizer's sentence-final characters, and the characters of
# general category P* (a token of those only is `is_punct`).
import unicodedata

from spacy.pipeline import Sentencizer

ends = sorted(ord(c) for c in Sentencizer.default_punct_chars)
punct = ranges_of(lambda c: unicodedata.category(c).startswith("P"))

# The letter classes the affix and infix patterns name (beyond ASCII).
from spacy.lang.char_classes import ALPHA, ALPHA_LOWER, ALPHA_UPPER

letters = {
    name: ranges_of(re.compile(f"[{cls}]").fullmatch, 0x80)
    for name, cls in [("ALPHA", ALPHA), ("ALPHA_LOWER", ALPHA_LOWER), ("ALPHA_UPPER", ALPHA_UPPER)]
}
# Python's str.isalpha (L*), which datatrove's rules ask of each character.
isalpha = ranges_of(str.isalpha, 0x80)



def write_ranges(f, doc, name, ranges, last=False):
    f.write(f"/// {doc} as inclusive ranges, sorted.\n")
    f.write(f"pub(super) const {name}: &[(char, char)] = &[\n")
    for lo, hi in ranges:
        f.write(f"    ({rust_char(lo)}, {rust_char(hi)}),\n")
    f.write("];\n" if last else "];\n\n")


with open(root / "src/stage/quality/spacy.rs", "w", encoding="utf-8") as f:
    f.write(f"//! Tables of spaCy {spacy.__version__}'s English tokenizer, written by\n")
    f.write("//! `bench/spacy_tokens.py`; regenerate them rather than edit them.\n\n")
    write_ranges(f, "LIST_ICONS (other symbols, `°` among them)", "ICONS", ranges)
    f.write("/// Tokenizer exceptions that stay one token (abbreviations, emoticons), sorted.\n")
    f.write("pub(super) const SPECIALS: &[&str] = &[\n")
    for s in specials:
        f.write(f"    {rust_str(s)},\n")
    f.write("];\n\n")
    f.write("/// Tokenizer exceptions of two or more tokens, and their tokens, sorted.\n")
    f.write("pub(super) const SPLITS: &[(&str, &[&str])] = &[\n")
    for k, p in splits:
        f.write(f"    ({rust_str(k)}, &[{', '.join(rust_str(x) for x in p)}]),\n")
    f.write("];\n\n")
    f.write("/// UNITS: split off as a suffix after an ASCII digit (`10km` → `10` `km`), sorted.\n")
    f.write("pub(super) const UNITS: &[&str] = &[\n")
    for u in units:
        f.write(f"    {rust_str(u)},\n")
    f.write("];\n\n")
    f.write("/// The sentencizer's sentence-final characters (`punct_chars`), sorted.\n")
    f.write("pub(super) const SENTENCE_ENDS: &[char] = &[\n")
    for cp in ends:
        f.write(f"    {rust_char(cp)},\n")
    f.write("];\n\n")
    write_ranges(f, f"General category P* (Unicode {unicodedata.unidata_version})", "PUNCTUATION", punct)
    write_ranges(f, f"Python's str.isalpha beyond ASCII (L*, Unicode {unicodedata.unidata_version})", "ISALPHA", isalpha)
    for name, r in letters.items():
        write_ranges(f, f"{name} beyond ASCII (letters of the affix and infix patterns)", name, r, last=name == "ALPHA_UPPER")
print(f"{len(ranges)} icon ranges, {len(specials)} one-token exceptions, {len(splits)} splitting ones, {len(units)} units, {len(ends)} sentence ends, {len(punct)} P* ranges, {len(isalpha)} isalpha ranges, " + ", ".join(f"{len(r)} {n} ranges" for n, r in letters.items()))
