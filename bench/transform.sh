#!/usr/bin/env bash
# Transform benchmark: pii + normalize + lines over a corpus in which about 2%
# of the documents carry an email, phone or IP address and about 1% carry
# mojibake or CRLF line endings; and datatrove's PIIFormatter + ftfy
# (FTFYFormatter) on a sample of it, side by side with sift's pii + normalize
# on the same sample, one process per core each.
#
#   bash bench/transform.sh [SIZE_BYTES] [SAMPLE_BYTES]   (default 1e9, 1e8)
#
# Reports each stage's time and rows rewritten, MB/s, peak RSS and the bytes
# the run stored, against the bytes of the source.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1000000000}"
sample_bytes="${2:-100000000}"
data=bench/data
out=bench/out/transform
mkdir -p "$data" "$out"
source bench/common.sh

if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c "import datatrove, ftfy" 2> /dev/null; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install --quiet "datatrove[processing]" spacy ftfy
fi

base="$data/corpus-pii-$size.jsonl"
if [ ! -f "$base" ]; then
  python3 bench/gen_corpus.py --bytes "$size" --seed 1 | python3 bench/add_pii.py > "$base"
fi
sample="$data/corpus-pii-$size-sample-$sample_bytes.jsonl"
[ -f "$sample" ] || head -c "$sample_bytes" "$base" | sed '$d' > "$sample"

store="$out/store"; rm -rf "$store"; "$sift" --store "$store" init > /dev/null
spec() { # source-version stages... -> toml
  local src="$1"; shift
  printf '[source]\nversion = "%s"\n' "$src"
  for s in "$@"; do
    case "$s" in
      pii) printf '\n[[stage]]\nkind = "pii"\nname = "pii"\n' ;;
      normalize) printf '\n[[stage]]\nkind = "normalize"\nname = "normalize"\n' ;;
      lines) printf '\n[[stage]]\nkind = "lines"\nname = "lines"\ndrop = ["javascript", "policy", "symbols_only"]\n' ;;
    esac
  done
}
"$sift" --store "$store" import "$base" --tag full > /dev/null
"$sift" --store "$store" import "$sample" --tag sample > /dev/null
spec full pii normalize lines > "$out/full.toml"
spec sample pii normalize > "$out/sample.toml"
/usr/bin/time -f "%e %M" -o "$out/time-full.txt" "$sift" --store "$store" run "$out/full.toml" --json > "$out/full.json"
/usr/bin/time -f "%e %M" -o "$out/time-sample.txt" "$sift" --store "$store" run "$out/sample.toml" --json > "$out/sample.json"
"$sift" --store "$store" show full --json > "$out/source.json"
v=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['version'])" "$out/sample.json")
"$sift" --store "$store" diff sample "$v" --key id --json > "$out/sample-diff.json"
/usr/bin/time -f "%e %M" -o "$out/time-dt.txt" bench/.venv/bin/python bench/datatrove_transform.py "$sample" > "$out/dt.json"

python3 - "$out" "$size" "$(stat -c %s "$sample")" <<'PY'
import json, os, sys
out, size, sbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
full, samp, dt = (json.load(open(f"{out}/{n}.json")) for n in ("full", "sample", "dt"))
src = json.load(open(f"{out}/source.json"))
t = lambda n: open(f"{out}/time-{n}.txt").read().split()
print(f"== transform: pii + normalize + lines, {size/1e6:.0f} MB, {os.cpu_count()} cores")
total = sum(s["seconds"] for s in full["stages"])
for s in full["stages"]:
    tr = s["transform"]
    print(f"  {s['name']:<10} {s['seconds']:7.2f} s ({size/1e6/s['seconds']:6.1f} MB/s)  rewrote {tr['rows_changed']} of {s['rows_in']} rows, {tr['new_bytes']/2**20:.1f} MiB new")
wall, rss = t("full")
print(f"stages {total:.2f} s = {size/1e6/total:.1f} MB/s; run wall {float(wall):.1f} s; peak RSS {int(rss)/1024:.0f} MiB")
print(f"stored {full['new_bytes']/2**20:.1f} MiB new for a source of {src['stats']['stored_bytes']/2**20:.1f} MiB ({full['new_bytes']/src['stats']['stored_bytes']:.1%})")
ss = sum(s["seconds"] for s in samp["stages"])
print(f"sample {sbytes/1e6:.0f} MB: sift pii + normalize {ss:.2f} s ({sbytes/1e6/ss:.1f} MB/s); datatrove PIIFormatter + ftfy {dt['seconds']:.2f} s ({sbytes/1e6/dt['seconds']:.2f} MB/s); peak RSS {int(t('dt')[1])/1024:.0f} MiB (parent)")
modified = json.load(open(f"{out}/sample-diff.json"))["keys"]["modified"]
print(f"ratio (same sample, same cores): {dt['seconds']/ss:.1f}x; rows changed: sift {modified}, datatrove {dt['changed']} of {dt['docs']} (ftfy also uncurls quotes and more; see src/stage/normalize.rs)")
PY
