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
# Run 0 builds the eval index over a 100-row source (its stage time is the
# build); runs 1 and 2 scan corpora A and B with the index from the cache.
# Reports the scan throughput of each, the index build time and its size.
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
head -n 100 "$a" > "$out/tiny.jsonl"
"$sift" --store "$store" import "$out/tiny.jsonl" --tag tiny > /dev/null
for src in tiny a b; do
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
t = json.load(open(f"{out}/tiny.json"))["stages"][0]
a = json.load(open(f"{out}/a.json"))["stages"][0]
b = json.load(open(f"{out}/b.json"))["stages"][0]
idx = a["decontaminate"]["index"]
idx_bytes = os.path.getsize(os.path.join(store, "objects", idx[:2], idx[2:]))
rss = {s: open(f"{out}/time-{s}.txt").read().split() for s in ("tiny", "a", "b")}
print(f"== decontamination: {size/1e6:.0f} MB corpora against a {eval_bytes/1e6:.0f} MB eval set, 13-grams, {os.cpu_count()} cores")
for name, r in (("A", a), ("B", b)):
    print(f"scan of {name} (index cached): {r['seconds']:.2f} s = {size / r['seconds'] / 1e6:.1f} MB/s; removed {r['removed']['contaminated']} of {r['rows_in']} rows; peak RSS {int(rss[name.lower()][1])/1024:.0f} MiB")
print(f"index build (a 100-row source, cold): {t['seconds']:.2f} s; index {idx_bytes/2**20:.1f} MiB, {(idx_bytes-16)//16} n-grams; peak RSS {int(rss['tiny'][1])/1024:.0f} MiB")
PY
