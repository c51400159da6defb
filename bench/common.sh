# Sourced by the bench scripts (from the repository root): GNU time for peak
# RSS, and a release build of sift kept in target/bench between runs.
command -v /usr/bin/time > /dev/null || { apt-get update -qq && apt-get install -y -qq time; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/bench}"
cargo build --release --quiet
sift="$PWD/$CARGO_TARGET_DIR/release/sift"
