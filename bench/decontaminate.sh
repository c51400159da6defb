#!/usr/bin/env bash
# Decontamination benchmark: a corpus against a ~10 MB eval set (13-gram
# index), timed as sift reports each stage.
#
#   bash bench/decontaminate.sh [CORPUS_BYTES] [EVAL_BYTES]   (default 1e9, 1e7)
#   EVAL=file.jsonl bash bench/decontaminate.sh ...             (another eval set)
#
# The generated corpora and eval set share prose, so most rows hit early;
# for the no-hit case, pass an eval set whose words are shuffled.
#
# Run 1 builds the eval index and scans corpus A; run 2 scans corpus B with
# the index from the cache. Reports the scan throughput (run 2), the index
# build time (run 1 minus a scan of A at run 2's rate) and the index size.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1000000000}"
eval_bytes="${2:-10000000}"
data=bench/data
out=bench/out/decontaminate
mkdir -p "$data" "$out"
source bench/common.sh

a="$data/corpus-$size.jsonl"
b="$data/corpus-$size-b.jsonl"
e="${EVAL:-$data/eval-$eval_bytes.jsonl}"
[ -f "$a" ] || python3 bench/gen_corpus.py --bytes "$size" --seed 1 > "$a"
[ -f "$b" ] || python3 bench/gen_corpus.py --bytes "$size" --seed 2 > "$b"
[ -f "$e" ] || python3 bench/gen_corpus.py --bytes "$eval_bytes" --seed 9 > "$e"

store="$out/store"; rm -rf "$store"; "$sift" --store "$store" init > /dev/null
"$sift" --store "$store" import "$a" --tag a > /dev/null
"$sift" --store "$store" import "$b" --tag b > /dev/null
"$sift" --store "$store" import "$e" --tag evals > /dev/null
for src in a b; do
  cat > "$out/$src.toml" <<TOML
[source]
version = "$src"

[[stage]]
kind = "decontaminate"
name = "decon"
against = [{ version = "evals", name = "eval" }]

[output]
allow_empty = true
TOML
  /usr/bin/time -f "%e %M" -o "$out/time-$src.txt" "$sift" --store "$store" run "$out/$src.toml" --json > "$out/$src.json"
done
python3 - "$out" "$size" "$eval_bytes" "$store" <<'PY'
import json, os, sys
out, size, eval_bytes, store = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
a = json.load(open(f"{out}/a.json"))["stages"][0]
b = json.load(open(f"{out}/b.json"))["stages"][0]
idx = a["decontaminate"]["index"]
idx_bytes = os.path.getsize(os.path.join(store, "objects", idx[:2], idx[2:]))
rate = size / b["seconds"]
build = a["seconds"] - size / rate
rss = [open(f"{out}/time-{s}.txt").read().split() for s in "ab"]
print(f"== decontamination: {size/1e6:.0f} MB corpus against a {eval_bytes/1e6:.0f} MB eval set, 13-grams, {os.cpu_count()} cores")
print(f"scan (index cached): {b['seconds']:.2f} s = {rate/1e6:.1f} MB/s; removed {b['removed']['contaminated']} of {b['rows_in']} rows; peak RSS {int(rss[1][1])/1024:.0f} MiB")
print(f"index build: about {build:.2f} s (run 1 {a['seconds']:.2f} s); index {idx_bytes/2**20:.1f} MiB, {(idx_bytes-16)//16} n-grams; peak RSS {int(rss[0][1])/1024:.0f} MiB")
PY
