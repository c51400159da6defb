# Sourced by the bench scripts (from the repository root): GNU time for peak
# RSS, and a release build of sift kept in target/bench between runs.
command -v /usr/bin/time > /dev/null || { apt-get update -qq && apt-get install -y -qq time; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/bench}"
cargo build --release --quiet
sift="$PWD/$CARGO_TARGET_DIR/release/sift"

# Installs PACKAGES into bench/.venv unless its python can import MODULES:
#   bench_venv "datatrove, spacy" "datatrove[processing]==0.10.1" spacy==3.8.18
bench_venv() {
  local modules="$1"
  shift
  if ! bench/.venv/bin/python -c "import $modules" 2> /dev/null; then
    [ -x bench/.venv/bin/pip ] || python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet "$@"
  fi
}
