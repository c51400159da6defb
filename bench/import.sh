#!/usr/bin/env bash
# Import benchmark: throughput, peak RSS, stored bytes, and what re-importing
# edited copies adds; `dvc add` of the same files side by side.
#
#   bash bench/import.sh [SIZE_BYTES] [SHARD_SIZE]
#
# Needs a release build (kept in target/bench between runs) and python3.
# dvc is pip-installed into bench/.venv (ignored by git) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1000000000}"
shard="${2:-8MiB}"
data=bench/data
out=bench/out
mkdir -p "$data" "$out"

source bench/common.sh

if [ ! -x bench/.venv/bin/dvc ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install --quiet dvc
fi

base="$data/corpus-$size.jsonl"
if [ ! -f "$base" ]; then
  echo "generating $base" >&2
  python3 bench/gen_corpus.py --bytes "$size" --seed 1 > "$base"
fi
[ -d "$data/variants-$size" ] || python3 bench/variants.py "$base" "$data/variants-$size" --fraction 0.01 --seed 1
bytes=$(stat -c %s "$base")

# Runs a command under /usr/bin/time; prints "seconds max_rss_kib".
timed() {
  /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" > "$out/last.json"
  cat "$out/time.txt"
}

# Median of three imports into fresh stores (the first import of a run can
# be slowed by writeback of earlier files).
runs=()
for i in 1 2 3; do
  store="$out/store"
  rm -rf "$store"
  "$sift" --store "$store" init > /dev/null
  sync
  read -r secs rss < <(timed "$sift" --store "$store" import "$base" --shard-size "$shard" --tag base --json)
  runs+=("$secs $rss")
done
read -r secs rss < <(printf "%s\n" "${runs[@]}" | sort -n | sed -n 2p)
stored=$(python3 -c "import json;print(json.load(open('$out/last.json'))['stored_bytes'])")
printf "\n== sift import of %s (%s bytes), shard size %s, %s threads (median of 3: %s s)\n" "$base" "$bytes" "$shard" "$(nproc)" "$(printf "%s " "${runs[@]%% *}")"
python3 - "$bytes" "$secs" "$rss" "$stored" <<'PY'
import sys
b, s, rss, st = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(f"import        {s:7.2f} s  {b/1e6/s:7.1f} MB/s  peak RSS {rss/1024:7.1f} MiB  stored {st/1e6:8.1f} MB ({st/b:.1%} of input)")
PY
for v in appended inserted deleted edited; do
  f="$data/variants-$size/$v.jsonl"
  read -r secs rss < <(timed "$sift" --store "$store" import "$f" --shard-size "$shard" --json)
  python3 - "$v" "$secs" "$rss" "$stored" "$out/last.json" <<'PY'
import json, sys
v, s, rss, st = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = json.load(open(sys.argv[5]))
print(f"re-import {v:9} {s:7.2f} s  new bytes {r['new_bytes']/1e6:8.2f} MB = {r['new_bytes']/st:6.2%} of stored  shards {r['shards']}")
PY
done

# Same content, 1 vs all threads: identical shard ids.
printf "\n== determinism: 1 thread vs %s\n" "$(nproc)"
s1="$out/store-1t"; rm -rf "$s1"; "$sift" --store "$s1" init > /dev/null
read -r secs1 rss1 < <(timed "$sift" --store "$s1" --threads 1 import "$base" --shard-size "$shard" --json)
c1=$(python3 -c "import json;print(json.load(open('$out/last.json'))['content_id'])")
c2=$("$sift" --store "$store" show base --json | python3 -c "import json,sys;print(json.load(sys.stdin)['content_id'])")
echo "1 thread: ${secs1} s, peak RSS $((rss1/1024)) MiB; content ids equal: $([ "$c1" = "$c2" ] && echo yes || echo NO)"

# dvc add of the same file, side by side.
printf "\n== dvc add (%s)\n" "$(bench/.venv/bin/dvc --version)"
d="$out/dvc"; rm -rf "$d"; mkdir -p "$d"; cp "$base" "$d/corpus.jsonl"
( cd "$d" && ../../.venv/bin/dvc init --no-scm -q )
sync
read -r dsecs drss < <(cd "$d" && /usr/bin/time -f "%e %M" ../../.venv/bin/dvc add -q corpus.jsonl 2>&1 >/dev/null | tail -1)
python3 - "$bytes" "$dsecs" "$drss" "$secs" <<'PY'
import sys
b, d, rss = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"dvc add       {d:7.2f} s  {b/1e6/d:7.1f} MB/s  peak RSS {rss/1024:7.1f} MiB")
PY
