#!/usr/bin/env bash
# Dedup at corpus scale: corpora of short documents (one paragraph of 20-60
# words, about 340 B a line) with near duplicates planted at a known rate
# (10%, edit rates 0-20%, bench/gen_corpus.py --short), deduplicated by sift
# under a memory budget, with rensa side by side on the smaller ones.
#
#   bash bench/scale.sh [DOCS...]          (default: 1000000 3000000 10000000)
#   MEMORY=2GiB RENSA_MAX=3000000 bash bench/scale.sh 1000000
#
# For each corpus: import and dedup wall time, peak RSS, bytes of RSS per
# document, what was sorted on disk, and precision / recall / F1 on the
# planted pairs whose true shingle Jaccard is at least 0.8. rensa (0.5.0,
# the same shingles, threshold and permutations) runs on corpora of up to
# RENSA_MAX documents; its time is compared with sift's import + dedup.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 3000000 10000000)
memory="${MEMORY:-2GiB}"
rensa_max="${RENSA_MAX:-3000000}"
data=bench/data
mkdir -p "$data"

source bench/common.sh
bench_venv rensa rensa==0.5.0

report=()
for n in "${sizes[@]}"; do
  out=bench/out/scale-$n
  mkdir -p "$out"
  corpus="$data/short-$n.jsonl"
  truth="$data/short-$n.truth.tsv"
  [ -f "$corpus" ] || python3 bench/gen_corpus.py --docs "$n" --short --seed 7 --bad-rate 0 --dup-rate 0.1 --truth "$truth" > "$corpus"
  bytes=$(stat -c %s "$corpus")

  store="$out/store"; rm -rf "$store"; "$sift" --store "$store" init > /dev/null
  /usr/bin/time -f "%e %M" -o "$out/time-import.txt" "$sift" --store "$store" import "$corpus" --tag corpus > /dev/null
  cat > "$out/p.toml" <<TOML
[source]
version = "corpus"

[[stage]]
kind = "dedup"
name = "near"
method = "minhash"
threshold = 0.8
num_perm = 128
ngram = 5

[output]
tag = "deduped"
TOML
  /usr/bin/time -f "%e %M" -o "$out/time-sift.txt" "$sift" --store "$store" run "$out/p.toml" --memory "$memory" --json > "$out/sift.json"
  leftovers=$(find "$store/tmp" -type f | wc -l)
  "$sift" --store "$store" query "SELECT id FROM corpus EXCEPT SELECT id FROM deduped ORDER BY id" --format csv | tail -n +2 > "$out/sift-removed.txt"
  removed=("$out/sift-removed.txt")
  if [ "$n" -le "$rensa_max" ]; then
    /usr/bin/time -f "%e %M" -o "$out/time-rensa.txt" bench/.venv/bin/python bench/dedup_peers.py rensa "$corpus" "$out/rensa-removed.txt" > "$out/rensa.json"
    removed+=("$out/rensa-removed.txt")
  else
    rm -f "$out/time-rensa.txt"
  fi
  bench/.venv/bin/python bench/dedup_peers.py score "$corpus" "$truth" "${removed[@]}" > "$out/score.txt"

  read -r import_s import_kb < "$out/time-import.txt"
  read -r dedup_s dedup_kb < "$out/time-sift.txt"
  python3 - "$n" "$bytes" "$import_s" "$import_kb" "$dedup_s" "$dedup_kb" "$out" "$memory" "$leftovers" <<'PY' | tee "$out/summary.txt"
import json, os, sys
n, size, imp, imp_kb, ded, ded_kb, out, memory, leftovers = sys.argv[1:]
n, size, imp, ded = int(n), int(size), float(imp), float(ded)
d = json.load(open(f"{out}/sift.json"))["stages"][0]
st = d["dedup"]
rss = int(ded_kb) * 1024
print(f"== {n:,} docs ({size / 1e6:.0f} MB), minhash 0.8, 128 perms ({st['bands']} x {st['rows']}), --memory {memory}")
print(f"sift import    wall {imp:8.2f} s  peak RSS {int(imp_kb) / 1024:8.1f} MiB  ({size / 1e6 / imp:.0f} MB/s)")
print(f"sift dedup     wall {ded:8.2f} s  peak RSS {rss / 2**20:8.1f} MiB  = {rss / n:.0f} B/doc"
      f"  stage {d['seconds']:.2f} s  sorted on disk {st.get('spilled', 0) / 2**20:.0f} MiB  spill files left {leftovers}")
print(f"               candidates {st['candidates']:,}  verified {st['verified']:,}  clusters {st['clusters']:,}  removed {st['removed']:,}")
if os.path.exists(f"{out}/time-rensa.txt"):
    r_s, r_kb = open(f"{out}/time-rensa.txt").read().split()
    print(f"rensa          wall {float(r_s):8.2f} s  peak RSS {int(r_kb) / 1024:8.1f} MiB"
          f"  = {float(r_s) / (imp + ded):.1f}x sift's import + dedup ({imp + ded:.2f} s)")
print(open(f"{out}/score.txt").read().rstrip())
PY
  report+=("$n $dedup_s")
done

if [ ${#report[@]} -gt 1 ]; then
  echo "== growth of the dedup wall time against n log n"
  python3 - "${report[@]}" <<'PY'
import math, sys
rows = [tuple(map(float, a.split())) for a in sys.argv[1:]]
n0, t0 = rows[0]
for n, t in rows:
    print(f"{int(n):>11,} docs  {t:8.2f} s  time x{t / t0:5.2f}  n log n x{n * math.log(n) / (n0 * math.log(n0)):5.2f}")
PY
fi
