#!/usr/bin/env bash
# Near-duplicate benchmark: sift's MinHash dedup against rensa, datasketch
# and datatrove's MinHash pipeline on one corpus with planted near duplicates
# (bench/gen_corpus.py), all at threshold 0.8, 128 permutations, word 5-gram
# shingles, in one run.
#
#   bash bench/dedup.sh [DOCS]      (default 100000)
#   PEERS="rensa" bash bench/dedup.sh 1000000    (a subset of the peers)
#
# Reports wall time, peak RSS and precision / recall / F1 against the planted
# pairs whose true shingle Jaccard is at least 0.8.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
data=bench/data
out=bench/out/dedup-$n
mkdir -p "$data" "$out"

source bench/common.sh
peers="${PEERS-rensa datasketch datatrove}"
bench_venv "datasketch, rensa, datatrove, spacy" datasketch==2.0.0 rensa==0.5.0 "datatrove[processing]==0.10.1" spacy==3.8.18

corpus="$data/dups-$n.jsonl"
truth="$data/dups-$n.truth.tsv"
[ -f "$corpus" ] || python3 bench/gen_corpus.py --docs "$n" --seed 3 --bad-rate 0 --dup-rate 0.2 --truth "$truth" > "$corpus"
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
verify = "exact"

[output]
tag = "deduped"
TOML
/usr/bin/time -f "%e %M" -o "$out/time-sift.txt" "$sift" --store "$store" run "$out/p.toml" --json > "$out/sift.json"
"$sift" --store "$store" query "SELECT id FROM corpus EXCEPT SELECT id FROM deduped ORDER BY id" --format csv | tail -n +2 > "$out/sift-removed.txt"

for tool in $peers; do
  if [ "$tool" = datatrove ]; then
    /usr/bin/time -f "%e %M" -o "$out/time-$tool.txt" bench/.venv/bin/python bench/datatrove_dedup.py "$corpus" "$out/datatrove-work" "$out/$tool-removed.txt" > "$out/$tool.json" 2> "$out/$tool.log"
  else
    /usr/bin/time -f "%e %M" -o "$out/time-$tool.txt" bench/.venv/bin/python bench/dedup_peers.py "$tool" "$corpus" "$out/$tool-removed.txt" > "$out/$tool.json"
  fi
done

printf "== near-duplicate removal: %s docs (%s MB), threshold 0.8, 128 perms, word 5-grams, %s cores\n" "$n" "$((bytes / 1000000))" "$(nproc)"
read -r sift_secs _ < "$out/time-sift.txt"
read -r import_secs import_rss < "$out/time-import.txt"
printf "%-11s wall %8.2f s  peak RSS %7.1f MiB  (sift end to end: %.2f s)\n" "sift import" "$import_secs" "$(awk "BEGIN{print $import_rss/1024}")" "$(awk "BEGIN{print $import_secs+$sift_secs}")"
for tool in sift $peers; do
  read -r secs rss < "$out/time-$tool.txt"
  printf "%-11s wall %8.2f s  peak RSS %7.1f MiB  time vs sift %6.1fx\n" "$tool" "$secs" "$(awk "BEGIN{print $rss/1024}")" "$(awk "BEGIN{print $secs/$sift_secs}")"
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
d = json.load(open(f"{out}/sift.json"))["stages"][0]["dedup"]
print(f"sift chose {d['bands']} bands x {d['rows']} rows; {d['candidates']} candidate pairs, {d['verified']} verified, {d['clusters']} clusters")
PY
removed=("$out/sift-removed.txt")
for tool in $peers; do removed+=("$out/$tool-removed.txt"); done
bench/.venv/bin/python bench/dedup_peers.py score "$corpus" "$truth" "${removed[@]}"
