#!/usr/bin/env bash
# One clean release build of a commit, timed: what `cargo install --locked --path .` costs a new
# user (crate sources already downloaded, so the network is not measured).
#
#   benches/release_build.sh COMMIT LABEL [CARGO ARGS...]
#
# Extra arguments go to `cargo build`, so a profile lever is measured without a commit, e.g.
#   benches/release_build.sh HEAD lto-thin --config 'profile.release.lto="thin"'
# Appends one line to $OUT (default /tmp/flow-release-builds.tsv):
#   label, commit, wall seconds, user+sys CPU seconds, binary bytes, stripped bytes, crates built.
# Run it on a quiet machine: the wall time is the figure, and other work inflates it.
set -euo pipefail

commit=${1:?usage: release_build.sh COMMIT LABEL [CARGO ARGS...]}
label=${2:?usage: release_build.sh COMMIT LABEL [CARGO ARGS...]}
shift 2
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
out=${OUT:-/tmp/flow-release-builds.tsv}
work=$(mktemp -d /tmp/flow-release-build.XXXXXX)
trap 'git -C "$repo" worktree remove --force "$work/src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git -C "$repo" worktree add --detach --quiet "$work/src" "$commit"
cd "$work/src"
sha=$(git rev-parse --short HEAD)

start=$(date +%s.%N)
/usr/bin/time -f '%U %S' -o "$work/cpu" \
    cargo build --release --locked --target-dir "$work/target" "$@" >"$work/build.log" 2>&1 || {
    tail -20 "$work/build.log" >&2
    exit 1
}
end=$(date +%s.%N)

bin="$work/target/release/flow"
strip -o "$work/flow.stripped" "$bin"
wall=$(echo "$end - $start" | bc)
cpu=$(awk '{ print $1 + $2 }' "$work/cpu")
crates=$(grep -c '^ *Compiling ' "$work/build.log" || true)
printf '%s\t%s\t%.1f\t%.1f\t%d\t%d\t%d\n' "$label" "$sha" "$wall" "$cpu" \
    "$(stat -c %s "$bin")" "$(stat -c %s "$work/flow.stripped")" "$crates" | tee -a "$out"
if [[ -n "${KEEP_BINARY:-}" ]]; then
    cp "$bin" "$KEEP_BINARY"
fi
