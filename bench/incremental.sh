#!/usr/bin/env bash
# Incremental dedup: corpus A is deduplicated once (which writes its band
# sidecars), then A + 10% new documents is deduplicated in the same store,
# where A's shards are unchanged and only the new rows are hashed. The
# second run is compared with a cold run of A + 10% in a fresh store: time,
# rows hashed, and the content ids (which must be equal).
#
#   bash bench/incremental.sh [DOCS]      (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
data=bench/data
out=bench/out/incremental-$n
mkdir -p "$data" "$out"

source bench/common.sh

a="$data/dups-$n.jsonl"
[ -f "$a" ] || python3 bench/gen_corpus.py --docs "$n" --seed 3 --bad-rate 0 --dup-rate 0.2 > "$a"
new="$data/dups-$n-new.jsonl"
[ -f "$new" ] || python3 bench/gen_corpus.py --docs "$((n / 10))" --seed 4 --bad-rate 0 --dup-rate 0.2 > "$new"
grown="$data/dups-$n-grown.jsonl"
[ -f "$grown" ] || cat "$a" "$new" > "$grown"

spec() { # version tag
  cat <<TOML
[source]
version = "$1"

[[stage]]
kind = "dedup"
name = "near"
method = "minhash"
threshold = 0.8

[output]
tag = "$2"
TOML
}
spec a a-dedup > "$out/a.toml"
spec grown grown-dedup > "$out/grown.toml"

run() { # store spec name -> "wall_s stage_s reused rows content_id"
  /usr/bin/time -f "%e" -o "$out/time.txt" "$sift" --store "$1" run "$2" --json > "$out/$3.json"
  python3 - "$out/$3.json" "$out/time.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); wall = open(sys.argv[2]).read().split()[0]
s = r["stages"][0]
print(wall, s["seconds"], s["dedup"].get("reused", 0), r["rows"], r["content_id"])
PY
}

warm="$out/warm"; cold="$out/cold"
rm -rf "$warm" "$cold"
"$sift" --store "$warm" init > /dev/null; "$sift" --store "$cold" init > /dev/null
"$sift" --store "$warm" import "$a" --tag a > /dev/null
read -r a_wall a_stage _ _ _ < <(run "$warm" "$out/a.toml" a)
"$sift" --store "$warm" import "$grown" --tag grown --json > "$out/import-grown.json"
read -r w_wall w_stage w_reused w_rows w_id < <(run "$warm" "$out/grown.toml" warm)
"$sift" --store "$cold" import "$grown" --tag grown > /dev/null
read -r c_wall c_stage c_reused c_rows c_id < <(run "$cold" "$out/grown.toml" cold)

python3 - "$n" "$a_stage" "$w_wall" "$w_stage" "$w_reused" "$w_rows" "$w_id" "$c_wall" "$c_stage" "$c_rows" "$c_id" "$out/import-grown.json" <<'PY'
import json, sys
n, a_stage, w_wall, w_stage, w_reused, w_rows, w_id, c_wall, c_stage, c_rows, c_id, imp = sys.argv[1:]
grown = int(n) + int(n) // 10
shared = json.load(open(imp))
print(f"== incremental dedup: A = {int(n):,} docs, A + 10% = {grown:,} docs (minhash, threshold 0.8)")
print(f"A, cold                 dedup stage {float(a_stage):7.2f} s")
print(f"A + 10%, cold store     dedup stage {float(c_stage):7.2f} s  (run {float(c_wall):.2f} s)  kept {c_rows}")
print(f"A + 10%, after A        dedup stage {float(w_stage):7.2f} s  (run {float(w_wall):.2f} s)  kept {w_rows}  rows from sidecars {int(w_reused):,} of {grown:,}")
print(f"incremental / cold: {float(w_stage) / float(c_stage):.1%} of the cold dedup stage")
print(f"same content id: {w_id == c_id} ({w_id[:12]})")
PY
