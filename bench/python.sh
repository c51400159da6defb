#!/usr/bin/env bash
# Python package benchmark: to_arrow() of a ~1M-row version in GB/s against
# pyarrow.parquet.read_table of the same version exported; iter_batches
# rows/s; commit() of a 1M-row pandas frame against `sift import` of the
# same JSONL. A release build of the package goes into bench/.venv.
#
#   bash bench/python.sh [CORPUS_BYTES]   (default 1.4e9: about 1M documents)
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1400000000}"
data=bench/data
out=bench/out/python
mkdir -p "$data" "$out"
source bench/common.sh

[ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
bench/.venv/bin/pip install --quiet maturin==1.16.0 pyarrow==26.0.1 pandas==3.1.1
VIRTUAL_ENV="$PWD/bench/.venv" bench/.venv/bin/maturin develop --release --quiet -m python/Cargo.toml

corpus="$data/corpus-$size.jsonl"
[ -f "$corpus" ] || python3 bench/gen_corpus.py --bytes "$size" --seed 1 > "$corpus"
store="$out/store"; rm -rf "$store" "$out/new" "$out/export"
"$sift" --store "$store" init > /dev/null
start=$(date +%s%N)
"$sift" --store "$store" import "$corpus" --tag corpus > /dev/null
end=$(date +%s%N)
import_s=$(python3 -c "print(($end - $start) / 1e9)")
"$sift" --store "$store" export corpus --to "$out/export" > /dev/null
bench/.venv/bin/python bench/python_bench.py "$store" "$out/export" "$corpus" "$out/new" > "$out/result.json"
python3 - "$out/result.json" "$import_s" "$(stat -c %s "$corpus")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); imp = float(sys.argv[2]); size = int(sys.argv[3])
gb = r["arrow_bytes"] / 1e9
print(f"== {r['rows']:,} rows, {gb:.2f} GB as Arrow")
print(f"to_arrow(): {r['to_arrow_s']:.2f} s = {gb / r['to_arrow_s']:.2f} GB/s; pyarrow.parquet.read_table of the export: {r['read_table_s']:.2f} s = {gb / r['read_table_s']:.2f} GB/s ({r['read_table_s'] / r['to_arrow_s']:.2f}x)")
print(f"iter_batches(8192): {r['rows'] / r['iter_batches_s']:,.0f} rows/s; shuffled: {r['rows'] / r['iter_batches_shuffled_s']:,.0f} rows/s; to_pandas(): {r['to_pandas_s']:.2f} s")
print(f"commit() of a {r['commit_rows']:,}-row pandas frame: {r['commit_s']:.2f} s; sift import of the JSONL ({size / 1e6:.0f} MB): {imp:.2f} s ({imp / r['commit_s']:.2f}x)")
PY
