#!/usr/bin/env bash
# Filter benchmark: gopher_quality AND gopher_repetition AND c4_quality over
# the bench/import.sh corpus with sift, and the same three datatrove filters
# side by side on the same sample, one process per core each.
#
#   bash bench/filter.sh [SIZE_BYTES] [SAMPLE_BYTES]
#
# datatrove (pure Python, spaCy tokenizer) is run on SAMPLE_BYTES of the
# corpus so the run stays short; sift runs on both the sample and the whole
# corpus. Throughputs are compared per byte on the same sample.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1000000000}"
sample_bytes="${2:-20000000}"
data=bench/data
out=bench/out
mkdir -p "$data" "$out"

source bench/common.sh

bench_venv "datatrove, spacy" "datatrove[processing]==0.10.1" spacy==3.8.18

base="$data/corpus-$size.jsonl"
[ -f "$base" ] || python3 bench/gen_corpus.py --bytes "$size" --seed 1 > "$base"
sample="$data/sample-$sample_bytes.jsonl"
[ -f "$sample" ] || head -c "$sample_bytes" "$base" | sed '$d' > "$sample"

spec() {
  cat <<TOML
[source]
path = "$1"

[[stage]]
kind = "filter"
name = "quality"
where = "gopher_quality(text) AND gopher_repetition(text) AND c4_quality(text)"

[output]
tag = "$2"
TOML
}

run_sift() { # file tag -> "wall_s rss_kib filter_s rows"
  spec "$PWD/$1" "$2" > "$out/$2.toml"
  /usr/bin/time -f "%e %M" -o "$out/time.txt" "$sift" --store "$store" run "$out/$2.toml" --json > "$out/$2.json"
  python3 - "$out/$2.json" "$out/time.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); wall, rss = open(sys.argv[2]).read().split()
print(wall, rss, r["stages"][0]["seconds"], r["rows"])
PY
}

store="$out/filter-store"
rm -rf "$store"; "$sift" --store "$store" init > /dev/null

sbytes=$(stat -c %s "$sample"); bbytes=$(stat -c %s "$base")
read -r s_wall s_rss s_filter s_rows < <(run_sift "$sample" sample)
read -r b_wall b_rss b_filter b_rows < <(run_sift "$base" full)
"$sift" --store "$store" query "SELECT id FROM sample ORDER BY id" --format csv | tail -n +2 > "$out/sift-kept.txt"

/usr/bin/time -f "%e %M" -o "$out/time-dt.txt" bench/.venv/bin/python bench/datatrove_filter.py "$sample" "$out/dt-kept.txt" > "$out/dt.json"
read -r d_wall d_rss < "$out/time-dt.txt"

python3 - "$sbytes" "$bbytes" "$s_wall" "$s_rss" "$s_filter" "$s_rows" "$b_wall" "$b_rss" "$b_filter" "$b_rows" "$d_wall" "$d_rss" "$out" <<'PY'
import json, sys
(sb, bb, sw, srss, sf, srows, bw, brss, bf, brows, dw, drss, out) = sys.argv[1:]
sb, bb = int(sb), int(bb)
dt = json.load(open(f"{out}/dt.json"))
mb = lambda b, s: b / 1e6 / float(s)
print(f"== filter: gopher_quality AND gopher_repetition AND c4_quality ({__import__('os').cpu_count()} cores)")
print(f"sift on {bb/1e6:.0f} MB     run {float(bw):7.1f} s ({mb(bb, bw):6.1f} MB/s incl. import)  filter stage {float(bf):6.1f} s ({mb(bb, bf):6.1f} MB/s)  peak RSS {int(brss)/1024:6.0f} MiB  kept {brows}")
print(f"sift on {sb/1e6:.0f} MB sample run {float(sw):7.1f} s ({mb(sb, sw):6.1f} MB/s incl. import)  filter stage {float(sf):6.1f} s ({mb(sb, sf):6.1f} MB/s)  peak RSS {int(srss)/1024:6.0f} MiB  kept {srows}")
print(f"datatrove on the sample   {dt['seconds']:7.1f} s ({mb(sb, dt['seconds']):6.2f} MB/s)  wall {float(dw):.1f} s  peak RSS {int(drss)/1024:6.0f} MiB (parent)  kept {dt['kept']} of {dt['docs']}")
print(f"ratio (sift filter stage vs datatrove, same sample): {dt['seconds']/float(sf):.1f}x; end to end incl. import: {dt['seconds']/float(sw):.1f}x")
a = set(open(f"{out}/sift-kept.txt").read().split()); b = set(open(f"{out}/dt-kept.txt").read().split())
print(f"agreement on the sample: both keep {len(a & b)}, only sift {len(a - b)}, only datatrove {len(b - a)} ({len(a ^ b)/max(1, dt['docs']):.2%} of docs differ)")
open(f"{out}/only-sift.txt", "w").write("\n".join(sorted(a - b, key=int)))
open(f"{out}/only-dt.txt", "w").write("\n".join(sorted(b - a, key=int)))
PY
