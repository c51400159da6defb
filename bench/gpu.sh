#!/usr/bin/env bash
# GPU benchmark, for a machine with an NVIDIA GPU (and no Rust): run it with a
# release binary carried along.
#
#   here:        CARGO_TARGET_DIR=target/bench cargo build --release
#                mkdir -p bench/gpu-carry && cp target/bench/release/sift bench/gpu-carry/
#   on the GPU:  SIFT=bench/gpu-carry/sift bash bench/gpu.sh [BYTES]   (default 1e9; 1e10 for 10 GB)
#
# Reports: what `sift device` finds; signatures per second over random
# shingle hashes on all CPU cores and on the GPU, with their band hashes
# compared; then a dedup of a generated corpus of BYTES with --device cpu and
# --device gpu, timed, with their content ids compared.
#
# The parity proptest runs from the test binary (`cargo test --release --no-run`
# prints its path), with SIFT_REQUIRE_GPU=1 so that a missing GPU fails it
# instead of skipping it:
#                SIFT_REQUIRE_GPU=1 bench/gpu-carry/tests gpu_ --test-threads 1
set -euo pipefail
cd "$(dirname "$0")/.."
sift="${SIFT:-bench/gpu-carry/sift}"
bytes="${1:-1000000000}"
out=bench/out/gpu
mkdir -p "$out"
# NVRTC: the system's CUDA, or a pip wheel.
for d in /usr/local/cuda/lib64 $(python3 -c "import nvidia.cuda_nvrtc, os; print(os.path.dirname(nvidia.cuda_nvrtc.__file__) + '/lib')" 2> /dev/null); do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
done
"$sift" device
for docs in 1000000 4000000; do
  "$sift" device --bench --docs "$docs" > "$out/kernel-$docs.json"
  python3 - "$out/kernel-$docs.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{d['docs']} docs x {d['shingles_per_doc']} shingles, K={d['permutations']}, {d['bands']}x{d['rows']}:")
for r in d["results"]:
    print(f"  {r['device']:40} {r['signatures_per_s']:14,.0f} signatures/s  {r['permuted_values_per_s']/1e9:8.1f} G permuted values/s  {r['hash_input_gb_per_s']:6.2f} GB/s of hashes")
print("  GPU band hashes identical to the CPU's:", d["gpu_bands_identical_to_cpu"])
PY
done

corpus="$out/corpus-$bytes.jsonl"
[ -f "$corpus" ] || python3 bench/gen_corpus.py --bytes "$bytes" --seed 3 --bad-rate 0 --dup-rate 0.2 > "$corpus"
store="$out/store"
rm -rf "$store"
"$sift" --store "$store" init > /dev/null
"$sift" --store "$store" import "$corpus" --tag corpus > /dev/null
cat > "$out/p.toml" <<TOML
[source]
version = "corpus"

[[stage]]
kind = "dedup"
method = "minhash"
threshold = 0.8
TOML
for device in cpu gpu; do
  start=$(date +%s%N)
  "$sift" --store "$store" run "$out/p.toml" --device "$device" --json > "$out/run-$device.json"
  end=$(date +%s%N)
  echo "dedup of $((bytes / 1000000)) MB on $device: $(((end - start) / 1000000)) ms (stage $(python3 -c "import json; print(json.load(open('$out/run-$device.json'))['stages'][0]['seconds'])") s)"
  # The stage cache would answer the second run: drop it by deleting the version and collecting.
  "$sift" --store "$store" gc --keep-untagged 0 --grace 0 > /dev/null
done
python3 -c "
import json
c, g = (json.load(open('$out/run-%s.json' % d)) for d in ('cpu', 'gpu'))
print('content ids identical:', c['content_id'] == g['content_id'], '| gpu stage ran on:', g['stages'][0]['dedup'].get('device'))
"
