#!/usr/bin/env bash
# Rule-set agreement with datatrove on real text of many kinds: manual pages,
# package descriptions, READMEs, manuals, dictionary entries and fortunes
# (bench/real_corpus.py, from Debian packages fetched with apt-get download).
# For each of gopher_quality, gopher_repetition, c4_quality and
# fineweb_quality, sift's reason (`…_reason(text)`) is compared with the
# reason datatrove 0.10.1 gives for the same row, per kind.
#
#   bash bench/agreement.sh [PER_KIND] [SEED]
#
# Writes bench/out/agreement-diff.jsonl: every row where a rule set differs.
set -euo pipefail
cd "$(dirname "$0")/.."
per_kind="${1:-1500}"
seed="${2:-1}"
data=bench/data
out=bench/out
mkdir -p "$data" "$out"

source bench/common.sh

bench_venv "datatrove, spacy" "datatrove[processing]==0.10.1" spacy==3.8.18
for tool in apt-get dpkg-deb man apt-cache; do
  command -v "$tool" > /dev/null || { echo "bench/agreement.sh needs $tool (a Debian system)" >&2; exit 1; }
done

debs="$data/debs"
root="$data/real-text"
if [ ! -d "$root/usr" ]; then
  mkdir -p "$debs" "$root"
  (cd "$debs" && apt-get download -q manpages manpages-dev python3.11-doc debian-policy \
    dict-gcide dict-foldoc dict-jargon dict-devil fortunes fortunes-min 2>&1 | grep -v '^W:' || true)
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$root"; done
fi
site=$(bench/.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")

corpus="$data/real-$per_kind-$seed.jsonl"
[ -f "$corpus" ] || python3 bench/real_corpus.py "$root" "$site" "$per_kind" "$seed" > "$corpus"

store="$out/agreement-store"
rm -rf "$store"
"$sift" --store "$store" init > /dev/null
"$sift" --store "$store" import "$corpus" --tag real > /dev/null
"$sift" --store "$store" query "SELECT id, kind,
    gopher_quality_reason(text) AS gopher_quality,
    gopher_repetition_reason(text) AS gopher_repetition,
    c4_quality_reason(text) AS c4_quality,
    fineweb_quality_reason(text) AS fineweb_quality,
    word_count(text) AS word_count,
    alpha_word_fraction(text) AS alpha_word_fraction
  FROM real ORDER BY id" --format jsonl > "$out/agreement-sift.jsonl"
bench/.venv/bin/python bench/datatrove_reasons.py "$corpus" "$out/agreement-dt.jsonl"

python3 - "$corpus" "$out" <<'PY'
import collections, json, sys
corpus, out = sys.argv[1:]
sets = ["gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality"]
ours = {r["id"]: r for r in map(json.loads, open(f"{out}/agreement-sift.jsonl"))}
theirs = {r["id"]: r for r in map(json.loads, open(f"{out}/agreement-dt.jsonl"))}
rows = [json.loads(l) for l in open(corpus)]
total = collections.Counter()
same = collections.Counter()
counts = ["word_count", "alpha_word_fraction"]
with open(f"{out}/agreement-diff.jsonl", "w") as diff:
    for row in rows:
        a, b = ours[row["id"]], theirs[row["id"]]
        total[row["kind"]] += 1
        for s in sets:
            if a.get(s) == b.get(s):
                same[row["kind"], s] += 1
            else:
                diff.write(json.dumps({"id": row["id"], "kind": row["kind"], "source": row["source"],
                                       "set": s, "sift": a.get(s), "datatrove": b.get(s)}) + "\n")
        # The same words as spaCy's tokenizer: the two counts the rules read most.
        if all(a.get(c) == b.get(c) for c in counts):
            same[row["kind"], "words"] += 1
        else:
            diff.write(json.dumps({"id": row["id"], "kind": row["kind"], "source": row["source"], "set": "words",
                                   "sift": [a.get(c) for c in counts], "datatrove": [b.get(c) for c in counts]}) + "\n")
kinds = list(total)
print(f"== same verdict and reason as datatrove 0.10.1, per rule set ({len(rows)} documents)")
print(f"{'kind':<12}{'docs':>6}" + "".join(f"{s:>19}" for s in sets) + f"{'same words':>12}")
for k in kinds + ["all"]:
    n = sum(total.values()) if k == "all" else total[k]
    cells = []
    for s in sets:
        m = sum(same[kk, s] for kk in kinds) if k == "all" else same[k, s]
        cells.append(f"{m / n:>18.2%} ")
    w = sum(same[kk, "words"] for kk in kinds) if k == "all" else same[k, "words"]
    print(f"{k:<12}{n:>6}" + "".join(cells) + f"{w / n:>11.2%}")
worst = min(same[k, s] / total[k] for k in kinds for s in sets)
print(f"lowest cell: {worst:.2%} (target >= 99.50%); differences in {out}/agreement-diff.jsonl")
PY
