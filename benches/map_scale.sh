#!/usr/bin/env bash
# A mapped node over N items (default 10,000): cold run, no-op, plan, add one item, and the floor
# of N bare bash processes, on this machine. Run by hand; numbers go to docs/benchmarks.md.
#   FLOW=target/release/flow N=10000 JOBS=2 benches/map_scale.sh
set -euo pipefail
FLOW="$(realpath "${FLOW:-target/release/flow}")"
N="${N:-10000}"
JOBS="${JOBS:-2}"
WORK="$(mktemp -d /tmp/flow-map-scale.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
mkdir items
python3 -c "
for i in range($N): open(f'items/s{i:06d}', 'w').write(f'{i}\n')
"
cat > flow.yaml <<'YAML'
nodes:
  feat:
    uses: shell
    map: x
    in: { x: file:items }
    with: { run: "cat {in.x} > {out.o}", outputs: { o: file } }
  join:
    uses: shell
    in: { d: feat.o }
    with: { run: "cat {in.d}/* | wc -l > {out.n}", outputs: { n: file } }
YAML
measure() { /usr/bin/time -f "$1: %e s, max RSS %M KB" "${@:2}" 2>&1 >/dev/null | tail -1; }
measure "cold run ($N items, -j $JOBS)" "$FLOW" run -j "$JOBS" flow.yaml
for i in 1 2 3; do measure "no-op run $i" "$FLOW" run -j "$JOBS" flow.yaml; done
measure "plan (nothing to do)" "$FLOW" plan flow.yaml
echo new > "items/s$(printf %06d "$N")"
measure "plan (one item new)" "$FLOW" plan flow.yaml
measure "run (one item new)" "$FLOW" run -j "$JOBS" flow.yaml
# The floor: the same command in N bare bash processes, JOBS at a time.
start=$(date +%s.%N)
seq -f "%06g" 0 $((N - 1)) | xargs -P "$JOBS" -I{} bash -c "set -euo pipefail; cat items/s{} > /dev/null"
end=$(date +%s.%N)
echo "floor: $N bare bash processes, $JOBS at a time: $(echo "$end - $start" | bc) s"
