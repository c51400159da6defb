#!/usr/bin/env bash
# `sift report` of a large version: a quality filter, MinHash dedup and a
# class cap over DOCS documents with planted duplicates, then the report of
# the result (HTML and JSON) and the A-B report of the source against it,
# three times each: the median wall time, peak RSS and the page's size.
#
#   bash bench/report.sh [DOCS]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
docs="${1:-1000000}"
data=bench/data
out=bench/out/report
mkdir -p "$data" "$out"
source bench/common.sh

corpus="$data/report-$((docs / 1000))k.jsonl"
[ -f "$corpus" ] || python3 bench/gen_corpus.py --docs "$docs" --seed 5 --dup-rate 0.2 > "$corpus"
store="$out/store"
if [ "$(jq -r .rows "$out/run.json" 2> /dev/null || echo null)" = "null" ]; then
  rm -rf "$store"
  "$sift" --store "$store" init > /dev/null
  cat > "$out/p.toml" <<TOML
[source]
path = "$PWD/$corpus"

[[stage]]
kind = "filter"
name = "quality"
where = "word_count(text) >= 50"
[stage.rules]
gopher_repetition = "NOT gopher_repetition(text)"
symbols = "symbol_to_word_ratio(text) > 0.1"

[[stage]]
kind = "dedup"
name = "near-dups"
method = "minhash"

[[stage]]
kind = "balance"
name = "per-source"
label = "source"
strategy = "cap"
max_per_class = 150000

[output]
tag = "clean"
TOML
  /usr/bin/time -f "%e %M" -o "$out/time-run.txt" "$sift" --store "$store" run "$out/p.toml" --json > "$out/run.json"
fi
source_id="$(jq -r .source "$out/run.json")"
for i in 1 2 3; do
  /usr/bin/time -f "%e %M" -o "$out/time-html-$i.txt" "$sift" --store "$store" report clean -o "$out/clean.html" 2> /dev/null
  /usr/bin/time -f "%e %M" -o "$out/time-json-$i.txt" "$sift" --store "$store" report clean --json -o "$out/clean.json" 2> /dev/null
  /usr/bin/time -f "%e %M" -o "$out/time-diff-$i.txt" "$sift" --store "$store" report "$source_id" clean -o "$out/diff.html" 2> /dev/null
done
python3 - "$out" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
def times(kind):
    runs = [open(f"{out}/time-{kind}-{i}.txt").read().split() for i in (1, 2, 3)]
    return statistics.median(float(r[0]) for r in runs), max(int(r[1]) for r in runs) / 1024
run = json.load(open(f"{out}/run.json"))
r = json.load(open(f"{out}/clean.json"))
print(f"version: {run['rows']:,} rows kept of {r['lineage'][0]['rows']:,} (stages: "
      + ", ".join(f"{f['name']} -{f['rows_in'] - f['rows_out']:,}" for f in r["funnel"]) + ")")
for kind, page in (("html", "clean.html"), ("json", "clean.json"), ("diff", "diff.html")):
    t, rss = times(kind)
    size = os.path.getsize(f"{out}/{page}")
    print(f"report {kind:4}: median {t:.2f} s of 3, peak RSS {rss:.0f} MiB, {size / 1024:.0f} KiB")
PY
