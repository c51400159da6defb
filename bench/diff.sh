#!/usr/bin/env bash
# Diff benchmark: two versions of a 1M-row text corpus that differ by 1% of
# their rows (edits, inserts, deletes spread evenly), diffed by sift
# (`--stat`, the default output, `--key id`) and, side by side, by oxen
# (`oxenai` from PyPI) on the same two files.
#
#   bash bench/diff.sh [ROWS]        (default 1000000)
#
# Reports wall time (median of 3) and peak RSS of each.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
data=bench/data
out=bench/out/diff-$n
mkdir -p "$data" "$out"

source bench/common.sh
bench_venv oxen oxenai==0.65.1

a="$data/diff-$n-a.jsonl"
b="$data/diff-$n-b.jsonl"
if [ ! -f "$b" ]; then
  python3 bench/gen_corpus.py --docs "$n" --seed 5 > "$a"
  python3 bench/diff_variant.py "$a" "$b" --fraction 0.01 --seed 5 > "$out/variant.json"
fi

store="$out/store"
rm -rf "$store"
"$sift" --store "$store" init > /dev/null
"$sift" --store "$store" import "$a" --tag a > /dev/null
"$sift" --store "$store" import "$b" --tag b > /dev/null

# median_of_3 NAME CMD...: prints "NAME median_seconds max_rss_mib".
median_of_3() {
  local name=$1
  shift
  local times=() rss=0
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" > "$out/$name.out"
    read -r s r < "$out/time.txt"
    times+=("$s")
    [ "$r" -gt "$rss" ] && rss=$r
  done
  med=$(printf "%s\n" "${times[@]}" | sort -n | sed -n 2p)
  printf "%s %s %s\n" "$name" "$med" "$(awk "BEGIN{printf \"%.1f\", $rss/1024}")"
}

results=$(
  median_of_3 sift-stat "$sift" --store "$store" diff a b --stat
  median_of_3 sift-default "$sift" --store "$store" diff a b
  median_of_3 sift-key "$sift" --store "$store" diff a b --key id --json
  median_of_3 oxen bench/.venv/bin/python bench/oxen_diff.py "$a" "$b"
  median_of_3 oxen-key bench/.venv/bin/python bench/oxen_diff.py "$a" "$b" id
)
printf "== diff: %s rows, %s MB per side, %s cores; changes: %s\n" "$n" "$(($(stat -c %s "$a") / 1000000))" "$(nproc)" "$(cat "$out/variant.json")"
sift_stat=$(echo "$results" | awk '$1=="sift-stat"{print $2}')
sift_default=$(echo "$results" | awk '$1=="sift-default"{print $2}')
echo "$results" | while read -r name secs rss; do
  printf "%-13s median %7.2f s  peak RSS %8.1f MiB  vs sift --stat %6.1fx  vs sift default %6.1fx\n" \
    "$name" "$secs" "$rss" "$(awk "BEGIN{print $secs/$sift_stat}")" "$(awk "BEGIN{print $secs/$sift_default}")"
done
echo "sift --stat:";  cat "$out/sift-stat.out"
echo "sift --key id:"; python3 -c "import json,sys; d=json.load(open('$out/sift-key.out')); print(d['rows'], d['keys']['modified'], d['keys']['added'], d['keys']['removed'])"
echo "oxen: $(cat "$out/oxen.out")   oxen --keys id: $(cat "$out/oxen-key.out")"
