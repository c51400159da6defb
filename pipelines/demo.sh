#!/usr/bin/env bash
# Builds sift and runs it on the bundled sample corpus in a fresh store:
# import it, list versions, show the manifest, query it, export it, filter it,
# explain a removed row and write the filtered version's report.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
sift() { ./target/debug/sift "$@"; }
echo "using ./target/debug/sift, a debug build (several times slower than release;" >&2
echo "  \`cargo install --path . --locked\` installs a release build as \`sift\`)" >&2
work="$(mktemp -d)"
export SIFT_STORE="$work/.sift"
set -x
sift init
sift import pipelines/data/web_sample.jsonl --tag sample -m "bundled sample"
sift log
sift show sample
sift query "SELECT source, count(*) AS docs, avg(length(text)) AS avg_chars FROM sample GROUP BY source ORDER BY docs DESC"
sift export sample --to "$work/export"
sift run pipelines/web_quality.toml
sift explain web-quality 3
sift report web-quality -o "$work/web-quality.html"
