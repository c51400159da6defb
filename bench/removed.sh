#!/usr/bin/env bash
# Removed rows in bulk: a quality filter and MinHash dedup over 100k
# documents with planted duplicates, then `removed()` in `sift query` (every
# removed row with its stage, rule and reason) and `explain --removed`.
#
#   bash bench/removed.sh [DOCS]   (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
docs="${1:-100000}"
data=bench/data
out=bench/out/removed
mkdir -p "$data" "$out"
source bench/common.sh

corpus="$data/dups-$((docs / 1000))k.jsonl"
[ -f "$corpus" ] || python3 bench/gen_corpus.py --docs "$docs" --seed 3 --dup-rate 0.25 > "$corpus"
store="$out/store"; rm -rf "$store"; "$sift" --store "$store" init > /dev/null
cat > "$out/p.toml" <<TOML
[source]
path = "$PWD/$corpus"

[[stage]]
kind = "filter"
name = "quality"
where = "gopher_quality(text)"

[[stage]]
kind = "dedup"
name = "near-dups"
method = "minhash"

[output]
tag = "clean"
TOML
"$sift" --store "$store" run "$out/p.toml" --json > "$out/run.json"
/usr/bin/time -f "%e %M" -o "$out/time-q.txt" "$sift" --store "$store" query \
  "SELECT stage_name, rule, count(*) AS n FROM removed('clean') GROUP BY 1, 2 ORDER BY 1, 2" --format csv > "$out/q.csv"
/usr/bin/time -f "%e %M" -o "$out/time-e.txt" "$sift" --store "$store" explain clean --removed --limit 10 --json > "$out/e.json"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
run = json.load(open(f"{out}/run.json"))
removed = sum(sum(s["removed"].values()) for s in run["stages"])
q = open(f"{out}/q.csv").read().strip().splitlines()[1:]
qt, qr = open(f"{out}/time-q.txt").read().split()
et, er = open(f"{out}/time-e.txt").read().split()
print(f"== removed rows: {run['stages'][0]['rows_in']} docs, {removed} removed by {len(run['stages'])} stages")
print(f"removed() grouped by stage and rule: {float(qt):.2f} s, peak RSS {int(qr)/1024:.0f} MiB: " + "; ".join(q))
print(f"explain --removed --limit 10: {float(et):.2f} s, peak RSS {int(er)/1024:.0f} MiB")
PY
