#!/usr/bin/env bash
# The GPU checks in one run on a machine with an NVIDIA GPU but no Rust:
# the GPU tests with SIFT_REQUIRE_GPU=1 (the parity proptest included), then
# bench/gpu.sh. Prepare bench/gpu-carry (ignored by git) here first:
#
#   CARGO_TARGET_DIR=target/bench cargo build --release
#   cargo test --no-run                      # prints the test binary's path
#   mkdir -p bench/gpu-carry
#   strip -o /tmp/sift target/bench/release/sift && xz -T2 -9 -c /tmp/sift > bench/gpu-carry/sift.xz
#   strip -o /tmp/tests target/debug/deps/tests-<hash> && xz -T2 -6 -c /tmp/tests > bench/gpu-carry/tests.xz
#   tar -C .ci/nvrtc/nvidia/cuda_nvrtc/lib -cf - libnvrtc.so.12 libnvrtc-builtins.so.12.8 | xz -T2 -9e > bench/gpu-carry/nvrtc.tar.xz
#
# (about 21 + 8 + 30 MB; with the tracked files that is just under a 64 MiB
# carry limit). Then, on the GPU machine, from the repository root:
#
#   bash bench/gpu_device.sh [CORPUS_BYTES]
#
# The test binary finds the repository and `target/debug/sift` at the paths
# it was built with, so the script links them there. Without the carried
# NVRTC it uses the machine's CUDA one.
set -u
R=$PWD
C=bench/gpu-carry
mkdir -p target/debug
xz -dc -T0 $C/sift.xz > target/debug/sift && chmod +x target/debug/sift
xz -dc -T0 $C/tests.xz > $C/tests && chmod +x $C/tests
# Where the test binary was built: link that path here.
built=$(grep -ao '/[^[:space:]"]*/target/debug/sift' $C/tests | head -1)
root=${built%/target/debug/sift}
if [ -n "$root" ] && [ ! -e "$root" ]; then mkdir -p "$(dirname "$root")" && ln -s "$R" "$root"; fi
lib=$R/.ci/nvrtc/nvidia/cuda_nvrtc/lib
mkdir -p "$lib"
if [ -f $C/nvrtc.tar.xz ]; then
  tar -C "$lib" -xJf $C/nvrtc.tar.xz
else
  found=$(ls /usr/local/cuda/lib64/libnvrtc.so.1[0-9]* 2> /dev/null | head -1)
  echo "no carried NVRTC; using $found"
  ln -sf "$found" "$lib/libnvrtc.so.12"
fi
export LD_LIBRARY_PATH=$lib
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
target/debug/sift device
echo "== GPU tests, SIFT_REQUIRE_GPU=1"
SIFT_REQUIRE_GPU=1 timeout 240 $C/tests gpu --test-threads 1 > $OUT/tests.log 2>&1
echo "tests exit $?"
grep -E "^test |test result|panicked|skipped" $OUT/tests.log | head -30
echo "== bench/gpu.sh ${1:-300000000}"
SIFT=$R/target/debug/sift timeout 300 bash bench/gpu.sh "${1:-300000000}" 2>&1 | tee $OUT/bench.log
