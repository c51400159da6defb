#!/usr/bin/env python3
"""Writes a stratified JSONL corpus of real text of many kinds, from Debian
packages unpacked under ROOT (see bench/agreement.sh), the package index and
the long descriptions of the Python packages installed in a virtualenv.

    real_corpus.py ROOT SITE_PACKAGES PER_KIND SEED > corpus.jsonl

Each row is {"id", "kind", "source", "text"}. Kinds:
  man         rendered manual pages (manpages, manpages-dev), tables included
  package     Debian package descriptions (apt-cache dumpavail)
  readme      Python packages' long descriptions (Markdown, reST)
  docs        the Python and Debian Policy manuals, one HTML page each
  dictionary  runs of 1-40 consecutive entries of GCIDE, FOLDOC, the
              Jargon File and The Devil's Dictionary
  fortune     runs of 1-20 consecutive fortune cookies (quotes, verse, jokes)
"""
import base64
import glob
import gzip
import html.parser
import json
import os
import random
import re
import subprocess
import sys
from email.parser import Parser

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def man_pages(root, pick):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    env.pop("MAN_KEEP_FORMATTING", None)
    paths = []
    for path in sorted(glob.glob(f"{root}/usr/share/man/man*/*.gz")):
        # Pages that only include another (.so) render as that page.
        with gzip.open(path, "rt", errors="replace") as f:
            if not f.read(200).lstrip().startswith(".so "):
                paths.append(path)
    for path in pick(paths):
        out = subprocess.run(["man", "-l", path], env=env, capture_output=True)
        text = out.stdout.decode("utf-8", "replace")
        if text.strip():
            yield os.path.relpath(path, root), text


def package_descriptions():
    dump = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, check=True).stdout
    seen = set()
    for stanza in dump.decode("utf-8", "replace").split("\n\n"):
        name, desc = None, []
        lines = stanza.split("\n")
        for i, line in enumerate(lines):
            if line.startswith("Package: "):
                name = line[9:]
            elif line.startswith("Description: "):
                desc = [line[13:]]
                for cont in lines[i + 1 :]:
                    if not cont.startswith(" "):
                        break
                    cont = cont[1:]
                    desc.append("" if cont == "." else cont)
                break
        if name and desc and name not in seen:
            seen.add(name)
            yield f"package:{name}", "\n".join(desc)


def readmes(site):
    for path in sorted(glob.glob(f"{site}/*.dist-info/METADATA")):
        with open(path, encoding="utf-8", errors="replace") as f:
            msg = Parser().parse(f)
        body = msg.get_payload()
        if isinstance(body, str) and body.strip():
            yield f"pypi:{msg['Name']}", body


class HtmlText(html.parser.HTMLParser):
    """The visible text of an HTML page: blocks on lines of their own."""

    BLOCKS = {"p", "div", "section", "li", "dt", "dd", "pre", "tr", "br", "h1", "h2", "h3", "h4", "table"}
    SKIP = {"script", "style", "nav", "head"}

    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)

    def text(self):
        text = "".join(self.parts)
        text = re.sub(r"[ \t]*\n[ \t\n]*\n", "\n\n", text)
        return text.strip()


def manuals(root):
    pages = glob.glob(f"{root}/usr/share/doc/python3.11/html/**/*.html", recursive=True)
    pages += glob.glob(f"{root}/usr/share/doc/debian-policy/*.html/*.html")
    for path in sorted(pages):
        if "/_" in path or path.endswith(("genindex.html", "search.html")):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            parser = HtmlText()
            parser.feed(f.read())
        body = parser.text()
        # The page's main body: drop the navigation before its first heading.
        if body:
            yield os.path.relpath(path, root), body


def b64(s):
    n = 0
    for c in s:
        n = n * 64 + B64.index(c)
    return n


def dictionary_entries(root):
    for index in sorted(glob.glob(f"{root}/usr/share/dictd/*.index")):
        name = os.path.basename(index)[: -len(".index")]
        with gzip.open(index[: -len(".index")] + ".dict.dz", "rb") as f:
            data = f.read()
        spans = set()
        with open(index, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3 and not parts[0].startswith("00database"):
                    spans.add((b64(parts[1]), b64(parts[2])))
        for off, size in sorted(spans):
            yield name, data[off : off + size].decode("utf-8", "replace").strip()


def runs(items, rng, most, sep):
    """Consecutive items joined in runs of 1..most, one document each."""
    items = list(items)
    i = 0
    while i < len(items):
        n = rng.randint(1, most)
        chunk = items[i : i + n]
        yield f"{chunk[0][0]}#{i}", sep.join(t for _, t in chunk)
        i += n


def fortunes(root):
    for path in sorted(glob.glob(f"{root}/usr/share/games/fortunes/*")):
        if "." in os.path.basename(path) or os.path.islink(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for cookie in f.read().split("\n%\n"):
                if cookie.strip():
                    yield f"fortune:{os.path.basename(path)}", cookie.strip("\n")


def main():
    root, site, per_kind, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)

    def pick(items):
        return rng.sample(items, per_kind) if len(items) > per_kind else items

    kinds = {
        "man": lambda: man_pages(root, pick),
        "package": package_descriptions,
        "readme": lambda: readmes(site),
        "docs": lambda: manuals(root),
        "dictionary": lambda: runs(dictionary_entries(root), rng, 40, "\n\n"),
        "fortune": lambda: runs(fortunes(root), rng, 20, "\n\n"),
    }
    row = 0
    for kind, make in kinds.items():
        docs = pick([(src, text) for src, text in make() if text.strip()])
        for src, text in docs:
            print(json.dumps({"id": row, "kind": kind, "source": src, "text": text}, ensure_ascii=False))
            row += 1
        print(f"{kind}: {len(docs)} documents", file=sys.stderr)


if __name__ == "__main__":
    main()
