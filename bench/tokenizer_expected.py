"""Tokenizers and expected token counts for sift's tests, from Python `tokenizers`.

Trains two small tokenizers on the bundled samples (pipelines/data) and
writes them with the counts Python gives for fixed texts:
- pipelines/data/tokenizer.json: byte-level BPE (GPT-2 style), 2,000 tokens,
  which pipelines/recipe.toml counts with (the tests copy it as tokenizer_bpe.json);
- tests/data/tokenizer_wordpiece.json: BERT-style WordPiece (NFD, lower
  case, accents stripped) with [CLS] … [SEP] added as special tokens;
- tests/data/tokenizer_counts.jsonl: per text, `len(encode(text,
  add_special_tokens=False).ids)` under each, and the WordPiece count with
  special tokens.

Run with tokenizers installed (the same version as the Rust crate):
    bench/.venv/bin/pip install tokenizers==0.22.2
    bench/.venv/bin/python bench/tokenizer_expected.py
"""

import json
import pathlib

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def corpus():
    for f in sorted((ROOT / "pipelines" / "data").glob("*.jsonl")):
        for line in f.open(encoding="utf-8"):
            text = json.loads(line).get("text")
            if isinstance(text, str):
                yield text


def bpe():
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2000,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"],
        show_progress=False,
    )
    t.train_from_iterator(corpus(), trainer)
    return t


def wordpiece():
    t = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    t.normalizer = normalizers.Sequence(
        [normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()]
    )
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=1500,
        special_tokens=["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"],
        show_progress=False,
    )
    t.train_from_iterator(corpus(), trainer)
    cls, sep = t.token_to_id("[CLS]"), t.token_to_id("[SEP]")
    t.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return t


TEXTS = [
    "",
    "Hello, world!",
    "The committee will publish its final report on the new railway line next month.",
    "Der Ausschuss wird seinen Abschlussbericht über die neue Bahnstrecke nächsten Monat veröffentlichen.",
    "Комитет опубликует свой окончательный доклад.",
    "東京は日本の首都です。",
    "emoji 😀🎉 and symbols ©®™ — “quotes” …",
    "   leading and trailing spaces   ",
    "line one\nline two\r\n\ttabbed line",
    "def main():\n    return 0  # code",
    "https://example.com/path?query=1&x=2",
    "ＦＵＬＬ ｗｉｄｔｈ letters and ﬁ ligatures",
    "café naïve résumé Ångström",
    "12345 67890 3.14159 1e-9",
    "a" * 300,
]


def main():
    b, w = bpe(), wordpiece()
    b.save(str(ROOT / "pipelines" / "data" / "tokenizer.json"))
    w.save(str(DATA / "tokenizer_wordpiece.json"))
    texts = list(TEXTS)
    texts += [json.loads(l)["text"] for l in (ROOT / "pipelines/data/multilingual.jsonl").open()][:16]
    with (DATA / "tokenizer_counts.jsonl").open("w", encoding="utf-8") as out:
        for t in texts:
            row = {
                "text": t,
                "bpe": len(b.encode(t, add_special_tokens=False).ids),
                "wordpiece": len(w.encode(t, add_special_tokens=False).ids),
                "wordpiece_special": len(w.encode(t, add_special_tokens=True).ids),
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(texts)} texts; bpe vocab {b.get_vocab_size()}, wordpiece vocab {w.get_vocab_size()}")


if __name__ == "__main__":
    main()
