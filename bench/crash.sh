#!/usr/bin/env bash
# Crash benchmark: SIGKILL `sift import`, `sift run` and `sift gc` at random
# instants, many times, on one store; after each kill, `sift fsck` must find
# no error, every tag must resolve to a readable version, and the next
# command must succeed.
#
#   bash bench/crash.sh [KILLS]      (default 200)
#
# The instant is uniform over each command's measured uninterrupted duration.
set -euo pipefail
cd "$(dirname "$0")/.."
kills="${1:-200}"
out=bench/out/crash
mkdir -p "$out"
source bench/common.sh

rm -rf "$out/store" "$out/work"
mkdir -p "$out/work"
store="$PWD/$out/store"
"$sift" --store "$store" init > /dev/null
python3 bench/gen_corpus.py --docs 20000 --seed 9 > "$out/work/a.jsonl"
python3 bench/gen_corpus.py --docs 20000 --seed 10 > "$out/work/b.jsonl"
"$sift" --store "$store" import "$out/work/a.jsonl" --tag base --shard-size 1MiB > /dev/null
cat > "$out/work/p.toml" <<TOML
[source]
version = "base"

[[stage]]
kind = "filter"
where = "word_count(text) >= 50"

[[stage]]
kind = "dedup"
method = "minhash"

[output]
compact_below = 0.9
shard_size = "1MiB"
TOML

commands=(import run gc)
cmd() {
  case $1 in
    import) echo "$sift --store $store import $out/work/$2.jsonl --tag t-$3 --shard-size 1MiB" ;;
    run) echo "$sift --store $store run $out/work/p.toml --tag r-$3" ;;
    gc) echo "$sift --store $store gc --keep-untagged 0 --grace 0" ;;
  esac
}
# Uninterrupted durations, in ms.
declare -A dur
for c in "${commands[@]}"; do
  start=$(date +%s%N)
  $(cmd "$c" b warmup) > /dev/null
  dur[$c]=$(( ($(date +%s%N) - start) / 1000000 + 1 ))
done
"$sift" --store "$store" tag --delete t-warmup > /dev/null
"$sift" --store "$store" tag --delete r-warmup > /dev/null
echo "uninterrupted: import ${dur[import]} ms, run ${dur[run]} ms, gc ${dur[gc]} ms"

declare -A killed ok
errors=0
RANDOM=7
for ((i = 0; i < kills; i++)); do
  c=${commands[$((i % 3))]}
  file=$([ $((i % 2)) -eq 0 ] && echo a || echo b)
  delay_ms=$(( (RANDOM * 32768 + RANDOM) % ${dur[$c]} ))
  $(cmd "$c" "$file" "$i") > /dev/null 2>&1 &
  pid=$!
  sleep "$(awk "BEGIN{print $delay_ms/1000}")"
  if kill -9 "$pid" 2> /dev/null; then killed[$c]=$(( ${killed[$c]:-0} + 1 )); else ok[$c]=$(( ${ok[$c]:-0} + 1 )); fi
  wait "$pid" 2> /dev/null || true
  if ! "$sift" --store "$store" fsck --json > "$out/fsck.json"; then
    errors=$((errors + 1))
    echo "fsck found an error after killing $c at ${delay_ms} ms (kill $i):"
    python3 -c "import json; [print(' ', f['message']) for f in json.load(open('$out/fsck.json'))['findings'] if f['severity']=='error']"
  fi
  for t in $("$sift" --store "$store" tags | awk '{print $1}'); do
    "$sift" --store "$store" cat "$t" --limit 1 > /dev/null || { errors=$((errors + 1)); echo "tag $t does not read after kill $i"; }
  done
done
# The next commands succeed.
"$sift" --store "$store" import "$out/work/b.jsonl" --tag after --shard-size 1MiB > /dev/null
"$sift" --store "$store" run "$out/work/p.toml" --tag after-run > /dev/null
"$sift" --store "$store" fsck --read-data > "$out/final-fsck.txt" || errors=$((errors + 1))
leftover=$(find "$store/tmp" -type f | wc -l)
echo "== $kills SIGKILLs: import killed ${killed[import]:-0} (finished first ${ok[import]:-0}), run killed ${killed[run]:-0} (${ok[run]:-0}), gc killed ${killed[gc]:-0} (${ok[gc]:-0})"
echo "fsck errors or unreadable tags: $errors; final fsck --read-data: $(tail -1 "$out/final-fsck.txt"); tmp files left: $leftover"
[ "$errors" -eq 0 ]
