#!/usr/bin/env bash
# The chaos harness of docs/reliability.md, run by hand (minutes, not a CI test):
#
#   benches/chaos.sh [FLOW_BINARY] [KILLS] [CORRUPTIONS] [MUTANTS]
#
# 1. KILLS random SIGKILLs of `flow run` on workflows/multimodal.yaml and on a 1,000-node shell
#    workflow whose nodes leave background children behind, each followed (eventually) by a
#    clean rerun; every output digest of the final run is compared with a clean reference run
#    (equal digests = equal bytes), and no node process may outlive its run.
# 2. CORRUPTIONS injected into store objects the last run used (a byte flipped with size and
#    mtime kept, a truncation, an append): the next run must notice every one, recompute, and
#    end with the reference digests; `flow verify` must then find the store intact.
# 3. MUTANTS malformed workflows made by mutating workflows/demo.yaml: each must load cleanly
#    (exit 0) or be refused with exit 2 and a file:line:column message, never panic, hang or
#    write the store.
# Prints one line per figure; docs/reliability.md quotes them.
set -uo pipefail
cd "$(dirname "$0")/.."
FLOW=$(realpath "${1:-target/debug/flow}")
KILLS=${2:-20}
CORRUPTIONS=${3:-20}
MUTANTS=${4:-300}
WORK=$(mktemp -d /tmp/flow-chaos.XXXXXX)
RANDOM=11
export NO_COLOR=1
unset FLOW_STATE_DIR FLOW_PLUGIN_PATH

die() { echo "chaos: $*" >&2; exit 1; }

# Digests of every node output of the newest run record, as "node.port digest" lines.
digests() {
  python3 - "$1" <<'EOF'
import json, sys, os, glob
runs = sorted(glob.glob(os.path.join(sys.argv[1], ".flow/runs/*.json")))
record = json.load(open(runs[-1]))
for node in record["nodes"]:
    for port, digest in sorted(node.get("outputs", {}).items()):
        print(f"{node['name']}.{port} {digest}")
EOF
}

# Processes still alive that a node of a project in $WORK started (their working directory or
# command line points into $WORK); flow itself excluded.
orphans() {
  local count=0
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$pid" = "$$" ] && continue
    local cwd cmd
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || continue
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || continue
    case "$cmd" in *"$FLOW"*) continue ;; esac
    case "$cwd$cmd" in *"$WORK"*) count=$((count + 1)) ;; esac
  done
  echo "$count"
}

# Rounds of four: a fresh store, four `flow run`s each SIGKILLed at a random moment (each
# resuming from what the last one left), then a rerun to completion whose every output digest
# is compared with the clean reference run, and a count of node processes still alive.
kill_loop() {
  local name=$1 dir=$2 file=$3 max_ms=$4 ref=$5
  local attempts=0 kills=0 orphans_left=0 failed_reruns=0 lost=0 rounds=0
  while [ "$attempts" -lt "$KILLS" ]; do
    rm -rf "$dir/.flow" "$dir/results"
    rounds=$((rounds + 1))
    for k in 1 2 3 4; do
      (cd "$dir" && exec "$FLOW" run "$file" >/dev/null 2>&1) &
      local pid=$!
      local ms=$((RANDOM % max_ms))
      sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
      attempts=$((attempts + 1))
      # Only a kill that found flow still running counts.
      if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
      wait "$pid" 2>/dev/null
    done
    (cd "$dir" && "$FLOW" run "$file" >/dev/null 2>"$WORK/rerun.err") || { failed_reruns=$((failed_reruns + 1)); cat "$WORK/rerun.err" >&2; }
    orphans_left=$((orphans_left + $(orphans)))
    lost=$((lost + $(diff <(digests "$ref") <(digests "$dir") | grep -c '^[<>]')))
  done
  echo "$name: $kills SIGKILLs landed (of $attempts tries, $rounds fresh stores), $failed_reruns failed reruns, node processes alive after the reruns: $orphans_left, outputs differing from a clean run: $lost"
}

# -- 1a. the multimodal pipeline ---------------------------------------------------------------
mkdir -p "$WORK/ref-mm" "$WORK/mm"
cp workflows/multimodal.yaml "$WORK/ref-mm/" && cp workflows/multimodal.yaml "$WORK/mm/"
start=$(date +%s%N)
(cd "$WORK/ref-mm" && "$FLOW" run multimodal.yaml >/dev/null 2>&1) || die "reference multimodal run failed"
mm_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "multimodal reference run: ${mm_ms} ms"
kill_loop multimodal "$WORK/mm" multimodal.yaml "$mm_ms" "$WORK/ref-mm"

# -- 1b. 1,000 shell nodes with background children -------------------------------------------
gen_shell() {
  echo "name: chaos-shell"
  echo "nodes:"
  for i in $(seq 0 999); do
    echo "  n$i:"
    echo "    uses: shell"
    if [ "$i" -ge 10 ]; then echo "    in: { a: n$((i - 10)).o, b: n$((i / 2)).o }"; fi
    # The background child writes into the output after the command returned: flow must
    # kill it before hashing, or the stored bytes would depend on timing.
    echo "    with: { run: \"(sleep 30; echo late >> {out.o}) & echo $i > {out.o}\", outputs: { o: file } }"
  done
}
mkdir -p "$WORK/ref-shell" "$WORK/shell"
gen_shell > "$WORK/ref-shell/shell.yaml"; cp "$WORK/ref-shell/shell.yaml" "$WORK/shell/"
start=$(date +%s%N)
(cd "$WORK/ref-shell" && "$FLOW" run shell.yaml >/dev/null 2>&1) || die "reference shell run failed"
shell_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "shell reference run (1,000 nodes): ${shell_ms} ms"
kill_loop shell-1000 "$WORK/shell" shell.yaml "$shell_ms" "$WORK/ref-shell"
sleep 0.5
echo "shell-1000: processes left with 'late' writers after all runs: $(orphans)"

# -- 2. store corruption -----------------------------------------------------------------------
injected=0 detected=0
cd "$WORK/mm"
for i in $(seq 1 "$CORRUPTIONS"); do
  mapfile -t objects < <(digests . | awk '{print $2}' | sort -u)
  digest=${objects[$((RANDOM % ${#objects[@]}))]}
  path=.flow/cas/${digest:0:2}/${digest:2}
  if [ -d "$path" ]; then
    mapfile -t files < <(find "$path" -type f)
    path=${files[$((RANDOM % ${#files[@]}))]}
  fi
  chmod u+w "$path"
  case $((i % 3)) in
    0) python3 - "$path" <<'EOF'
import os, sys
p = sys.argv[1]; st = os.stat(p)
data = bytearray(open(p, "rb").read() or b"\0")
k = len(data) // 2
data[k] ^= 0x01
open(p, "wb").write(bytes(data))
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
EOF
       ;;
    1) truncate -s $(( $(stat -c %s "$path") / 2 )) "$path" ;;
    2) printf 'x' >> "$path" ;;
  esac
  chmod u-w "$path"
  injected=$((injected + 1))
  "$FLOW" run multimodal.yaml >/dev/null 2>"$WORK/corrupt.err" || die "run after corruption $i failed: $(cat "$WORK/corrupt.err")"
  if grep -q "was corrupt in the store" "$WORK/corrupt.err"; then detected=$((detected + 1)); fi
done
lost=$(diff <(digests "$WORK/ref-mm") <(digests .) | grep -c '^[<>]')
"$FLOW" verify >"$WORK/verify.out" 2>&1 && verified=intact || verified="NOT intact: $(tail -1 "$WORK/verify.out")"
echo "corruption: $injected injected, $detected detected and recomputed in the same run, outputs differing from a clean run afterwards: $lost, flow verify: $verified"
cd - >/dev/null

# -- 3. malformed workflows ----------------------------------------------------------------------
mkdir -p "$WORK/mutants"
cp workflows/demo.yaml "$WORK/mutants/demo.yaml"
exit0=0 exit2=0 bad=0
for i in $(seq 1 "$MUTANTS"); do
  python3 - "$WORK/mutants/demo.yaml" "$WORK/mutants/m.yaml" "$i" <<'EOF'
import random, sys
text = open(sys.argv[1]).read()
rng = random.Random(int(sys.argv[3]))
junk = [":", "{", "}", "[", "]", "-", "${", "}}", "\t", "'", '"', "&", "*a", "!!", "\xff", "..", "in.", "out.", " ", "\n", "#", "%", "|", ">"]
for _ in range(rng.randint(1, 3)):
    k = rng.randrange(len(text))
    op = rng.randrange(4)
    if op == 0: text = text[:k] + text[k + rng.randint(1, 8):]
    elif op == 1: text = text[:k] + rng.choice(junk) + text[k:]
    elif op == 2:
        lines = text.split("\n"); a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[a], lines[b] = lines[b], lines[a]; text = "\n".join(lines)
    else: text = text[:k] + text[k:k + 20] + text[k:]
open(sys.argv[2], "w", encoding="utf-8", errors="surrogateescape").write(text)
EOF
  (cd "$WORK/mutants" && timeout 20 "$FLOW" plan m.yaml >/dev/null 2>"$WORK/mutant.err")
  code=$?
  case $code in
    0) exit0=$((exit0 + 1)) ;;
    2) if grep -qE 'm\.yaml(:[0-9]+:[0-9]+)?: ' "$WORK/mutant.err"; then exit2=$((exit2 + 1)); else bad=$((bad + 1)); echo "mutant $i: exit 2 without a location: $(head -1 "$WORK/mutant.err")"; fi ;;
    *) bad=$((bad + 1)); echo "mutant $i: exit $code: $(head -3 "$WORK/mutant.err")" ;;
  esac
done
echo "malformed workflows: $MUTANTS mutants of demo.yaml, $exit0 still valid, $exit2 refused with exit 2 and a location, $bad otherwise (panic, hang, other code)"
[ -d "$WORK/mutants/.flow" ] && echo "mutants: a store was created by plan (should not be)"
echo "work dir: $WORK"
