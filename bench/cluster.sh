#!/usr/bin/env bash
# sift run on a local DataFusion Ballista cluster (a scheduler and 2
# executors on 127.0.0.1, child processes of the same binary) against the
# same run on its own, on one machine: the cluster's overhead, since both
# use the same cores.
#
#   bash bench/cluster.sh [DOCS]      (default 1000000; REPEAT=3 runs each)
#
# Corpus: DOCS short documents (one paragraph of 20-60 words) with 10%
# planted near duplicates (bench/gen_corpus.py --short, as bench/scale.sh).
# Two pipelines over the imported corpus, each run cold (a fresh copy of the
# store, so no stage cache and no band sidecars):
#   dedup:  MinHash dedup (threshold 0.8, 128 permutations);
#   filter: gopher_repetition AND c4_quality, then the same dedup.
# For each: the local and cluster wall times (median), their ratio, the
# content ids (which must match), the bytes the executors sent back per
# document (kept-row bitmaps, band sidecars, candidate pairs, labels), and
# the bytes they wrote to their work directories per document (the band
# rows' shuffle files and the results), and the time in the executors' jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
repeat="${REPEAT:-3}"
data=bench/data
out=bench/out/cluster-$n
mkdir -p "$data" "$out"
source bench/common.sh

corpus="$data/short-$n.jsonl"
[ -f "$corpus" ] || python3 bench/gen_corpus.py --docs "$n" --short --seed 7 --bad-rate 0 --dup-rate 0.1 --truth "$data/short-$n.truth.tsv" > "$corpus"

pristine="$out/pristine"
if [ ! -d "$pristine" ]; then
  "$sift" --store "$pristine" init > /dev/null
  "$sift" --store "$pristine" import "$corpus" --tag corpus > /dev/null
fi

# spec [STAGE...]: the corpus through the given stages, then the dedup.
spec() {
  printf '[source]\nversion = "corpus"\n\n'
  for stage in "$@"; do printf '%s\n\n' "$stage"; done
  printf '[[stage]]\nkind = "dedup"\nname = "near"\nmethod = "minhash"\nthreshold = 0.8\nnum_perm = 128\nngram = 5\n\n[output]\ntag = "out"\n'
}
spec > "$out/dedup.toml"
spec $'[[stage]]\nkind = "filter"\nname = "quality"\nwhere = "gopher_repetition(text) AND c4_quality(text)"' > "$out/filter.toml"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; }
trap cleanup EXIT
"$sift" cluster scheduler --bind 127.0.0.1:0 2> "$out/scheduler.log" &
pids+=($!)
for _ in $(seq 50); do grep -q "df://" "$out/scheduler.log" && break; sleep 0.1; done
url=$(grep -o 'df://[0-9.:]*' "$out/scheduler.log")
# One task at a time each: two executors on this machine's two cores. Their
# work directories (shuffle files, results) go under $out/work, to measure.
rm -rf "$out/work"
mkdir -p "$out/work"
for e in 1 2; do
  TMPDIR="$PWD/$out/work" "$sift" cluster executor --scheduler "${url#df://}" --tasks 1 2> "$out/executor-$e.log" &
  pids+=($!)
done
sleep 1

# run NAME SPEC [--cluster URL]: one cold run; prints "seconds content_id".
run() {
  local name="$1" spec="$2"
  shift 2
  local store="$out/store-$name"
  rm -rf "$store"
  cp -r "$pristine" "$store"
  local t0 t1
  t0=$(date +%s.%N)
  "$sift" --store "$store" run "$spec" --json "$@" > "$out/$name.json" 2> "$out/$name.log"
  t1=$(date +%s.%N)
  echo "$(echo "$t1 - $t0" | bc) $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['content_id'])" "$out/$name.json")"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

report=()
for pipe in dedup filter; do
  : > "$out/$pipe-local.times"
  : > "$out/$pipe-cluster.times"
  work_before=$(du -sb "$out/work" | cut -f1)
  for _ in $(seq "$repeat"); do
    read -r t id_local < <(run "$pipe-local" "$out/$pipe.toml")
    echo "$t" >> "$out/$pipe-local.times"
    read -r t id_cluster < <(run "$pipe-cluster" "$out/$pipe.toml" --cluster "$url")
    echo "$t" >> "$out/$pipe-cluster.times"
    [ "$id_local" = "$id_cluster" ] || { echo "content ids differ: $id_local vs $id_cluster" >&2; exit 1; }
  done
  local_s=$(median < "$out/$pipe-local.times")
  cluster_s=$(median < "$out/$pipe-cluster.times")
  back=$(grep -o '[0-9]* bytes back' "$out/$pipe-cluster.log" | awk '{s += $1} END {print s + 0}')
  shuffled=$(( ($(du -sb "$out/work" | cut -f1) - work_before) / repeat ))
  jobs=$(grep -o 'bytes back, [0-9.]* s' "$out/$pipe-cluster.log" | awk '{s += $3} END {print s + 0}')
  report+=("$(printf '%-7s local %6.2f s  cluster %6.2f s  ratio %.2f  executor jobs %.2f s  %s B back (%.1f B/doc)  %s B written by executors (%.1f B/doc)  content id %s' \
    "$pipe" "$local_s" "$cluster_s" "$(echo "$cluster_s / $local_s" | bc -l)" "$jobs" "$back" "$(echo "$back / $n" | bc -l)" "$shuffled" "$(echo "$shuffled / $n" | bc -l)" "${id_local:0:16}")")
done

echo
echo "cluster vs local on $n short documents ($(nproc) cores; scheduler + 2 executors on 127.0.0.1, $repeat runs each, medians):"
printf '%s\n' "${report[@]}" | tee "$out/report.txt"
