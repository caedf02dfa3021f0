#!/usr/bin/env bash
# Engine-overhead benchmark: flow vs Snakemake on synthetic DAGs of trivial shell nodes.
# See benches/README.md. Everything it writes goes under $WORK (default /tmp/bench/work).
#
#   benches/run_engine_bench.sh              # all suites
#   SUITES="noop plan" benches/run_engine_bench.sh
#
# Environment:
#   WORK=/tmp/bench/work        scratch directory (DAGs, stores, hyperfine JSON)
#   FLOW=target/release/flow    flow binary (built with `cargo build --release` if missing)
#   FLOW_COMMIT=abc1234         the commit FLOW was built from, for the report [default: HEAD]
#   GEN=target/release/flow-bench-dag
#   SNAKEMAKE=snakemake         Snakemake executable; SNAKEMAKE=none skips it
#   RUNS=10 SMK_RUNS=5 COLD10K_RUNS=3   repetitions (hyperfine --runs)
#   SUITES="noop plan cold1k cold10k floor"
#   IDLE_WAIT=900               seconds to wait for an idle CPU before each measurement
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/bench/work}
FLOW=${FLOW:-$repo/target/release/flow}
GEN=${GEN:-$repo/target/release/flow-bench-dag}
SNAKEMAKE=${SNAKEMAKE:-snakemake}
RUNS=${RUNS:-10}
SMK_RUNS=${SMK_RUNS:-5}
COLD10K_RUNS=${COLD10K_RUNS:-3}
SUITES=${SUITES:-"noop plan cold1k cold10k floor"}
IDLE_WAIT=${IDLE_WAIT:-900}
JOBS=2 # the machine this was written for has 2 cores; both tools get the same budget

command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install hyperfine" >&2; exit 2; }
if [[ ! -x $FLOW || ! -x $GEN ]]; then
    (cd "$repo" && cargo build --release --bin flow --bin flow-bench-dag)
fi
if [[ $SNAKEMAKE != none ]] && ! command -v "$SNAKEMAKE" >/dev/null; then
    echo "no '$SNAKEMAKE' on PATH: install it (python3 -m venv V && V/bin/pip install snakemake)" >&2
    echo "and pass SNAKEMAKE=V/bin/snakemake, or SNAKEMAKE=none to measure flow alone" >&2
    exit 2
fi
smk() { [[ $SNAKEMAKE != none ]]; }

mkdir -p "$WORK/results"
WORK=$(cd "$WORK" && pwd)
log() { printf '\n== %s\n' "$*" >&2; }

# Other processes (a parallel `cargo test`, say) distort timings on a 2-core machine: wait
# until the CPUs have been >= 90% idle for 3 seconds, and record the load average we ran at.
wait_idle() {
    local waited=0
    while :; do
        local a b
        read -r _ u1 n1 s1 i1 w1 q1 sq1 _ < /proc/stat
        sleep 3
        read -r _ u2 n2 s2 i2 w2 q2 sq2 _ < /proc/stat
        a=$(( (u2 + n2 + s2 + q2 + sq2) - (u1 + n1 + s1 + q1 + sq1) ))
        b=$(( (i2 + w2) - (i1 + w1) ))
        if (( (a + b) > 0 && b * 100 / (a + b) >= 90 )); then break; fi
        waited=$((waited + 3))
        if (( waited >= IDLE_WAIT )); then
            echo "warning: CPU still busy after ${IDLE_WAIT}s; measuring anyway" >&2
            break
        fi
    done
    echo "$1 $(cut -d' ' -f1-3 /proc/loadavg)" >> "$WORK/results/loadavg.txt"
}

# gen NAME SAMPLES: a fresh copy of the DAG in $WORK/NAME
gen() {
    rm -rf "${WORK:?}/$1"
    "$GEN" --samples "$2" --out "$WORK/$1"
}

busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

# hf NAME WARMUP hyperfine-args...: runs hyperfine after wait_idle, then estimates how much CPU
# other processes used meanwhile (machine busy time minus the benchmark's own user+system time)
# and writes it to NAME.load; the summary flags results measured next to a busy neighbour.
hf() {
    local name=$1 warmup=$2; shift 2
    wait_idle "$name"
    local b0 t0 b1 t1
    b0=$(busy_ticks); t0=$(date +%s.%N)
    hyperfine --style basic --warmup "$warmup" --export-json "$WORK/results/$name.json" "$@"
    b1=$(busy_ticks); t1=$(date +%s.%N)
    python3 - "$WORK/results/$name.json" "$b0" "$b1" "$t0" "$t1" "$warmup" "$(getconf CLK_TCK)" "$(nproc)" \
        > "$WORK/results/$name.load" <<'PY'
import json, sys
path, b0, b1, t0, t1, warmup, hz, ncpu = sys.argv[1:]
r = json.load(open(path))["results"][0]
runs = len(r["times"])
own = (r["user"] + r["system"]) * (runs + int(warmup))
machine = (int(b1) - int(b0)) / int(hz)
elapsed = float(t1) - float(t0)
foreign = max(0.0, machine - own) / (elapsed * int(ncpu))
print(f"{foreign * 100:.0f}")
PY
    echo "other processes used ~$(cat "$WORK/results/$name.load")% of the CPUs during $name" >&2
}

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "memory: $(grep MemTotal /proc/meminfo | awk '{printf "%.1f GiB", $2/1048576}')"
    echo "kernel: $(uname -r)"
    # FLOW_COMMIT names the commit a binary passed in FLOW= was built from; the default is
    # this checkout's HEAD, which is only right for a fresh `cargo build --release` of it.
    echo "flow: $("$FLOW" --version) at ${FLOW_COMMIT:-$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')}"
    smk && echo "snakemake: $("$SNAKEMAKE" --version)"
    echo "hyperfine: $(hyperfine --version)"
    echo "bash: $(bash --version | head -1)"
} | tee "$WORK/results/machine.txt"

for suite in $SUITES; do
case $suite in
noop)
    log "no-op rerun of the 10,006-node DAG (after a full run)"
    gen flow-10k 3335
    (cd "$WORK/flow-10k" && "$FLOW" run -j $JOBS workflow.yaml > /dev/null 2>&1)
    hf noop-flow 2 --runs "$RUNS" -n "flow run -j $JOBS (no-op, 10k)" \
        "cd $WORK/flow-10k && $FLOW run -j $JOBS workflow.yaml"
    if smk; then
        # The 10-minute setup is kept between invocations of this script (delete the directory,
        # or the .bench-built marker, to redo it).
        if [[ ! -f $WORK/smk-10k/.bench-built ]]; then
        gen smk-10k 3335
        # The untimed setup build uses the greedy scheduler: with the default ILP scheduler
        # Snakemake 9 managed ~170 jobs/min at this size (about an hour for 10k jobs); the
        # outputs and .snakemake metadata it leaves are the same either way.
        log "building the 10k DAG with Snakemake (setup, untimed)"
        (cd "$WORK/smk-10k" && /usr/bin/time -f "snakemake setup build: %e s" \
            "$SNAKEMAKE" -c$JOBS --scheduler greedy > "$WORK/results/smk-10k-build.log" 2>&1)
        tail -1 "$WORK/results/smk-10k-build.log" >&2
        touch "$WORK/smk-10k/.bench-built"
        fi
        hf noop-snakemake 1 --runs "$SMK_RUNS" -n "snakemake -c$JOBS (no-op, 10k)" \
            "cd $WORK/smk-10k && $SNAKEMAKE -c$JOBS"
    fi
    ;;
plan)
    log "plan of a fresh 10,006-node DAG (no state yet)"
    gen flow-plan-10k 3335
    hf plan-flow 1 --runs "$RUNS" -n "flow plan (fresh, 10k)" \
        --prepare "rm -rf $WORK/flow-plan-10k/.flow" \
        "cd $WORK/flow-plan-10k && $FLOW plan workflow.yaml"
    if smk; then
        gen smk-plan-10k 3335
        hf plan-snakemake 1 --runs "$SMK_RUNS" -n "snakemake -n -c$JOBS (fresh, 10k)" \
            --prepare "rm -rf $WORK/smk-plan-10k/.snakemake $WORK/smk-plan-10k/results" \
            "cd $WORK/smk-plan-10k && $SNAKEMAKE -n -c$JOBS"
    fi
    ;;
cold1k)
    log "cold run of 1,000 trivial shell nodes"
    gen flow-1k 333
    hf cold1k-flow 1 --runs "$RUNS" -n "flow run -j $JOBS (cold, 1k)" \
        --prepare "rm -rf $WORK/flow-1k/.flow $WORK/flow-1k/results" \
        "cd $WORK/flow-1k && $FLOW run -j $JOBS workflow.yaml"
    if smk; then
        gen smk-1k 333
        hf cold1k-snakemake 1 --runs "$SMK_RUNS" -n "snakemake -c$JOBS (cold, 1k)" \
            --prepare "rm -rf $WORK/smk-1k/.snakemake $WORK/smk-1k/results" \
            "cd $WORK/smk-1k && $SNAKEMAKE -c$JOBS"
        cmp "$WORK/flow-1k/results/merge.txt" "$WORK/smk-1k/results/merge.txt"
        echo "same results/merge.txt from both tools" >&2
    fi
    ;;
cold10k)
    log "cold run of the 10,006-node DAG (flow only)"
    gen flow-c10k 3335
    hf cold10k-flow 0 --runs "$COLD10K_RUNS" -n "flow run -j $JOBS (cold, 10k)" \
        --prepare "rm -rf $WORK/flow-c10k/.flow $WORK/flow-c10k/results" \
        "cd $WORK/flow-c10k && $FLOW run -j $JOBS workflow.yaml"
    ;;
floor)
    log "floor: 1,000 'bash -c \"set -euo pipefail; cat IN > OUT\"' two at a time, no engine"
    rm -rf "$WORK/floor" && mkdir -p "$WORK/floor" && echo "sample" > "$WORK/floor/in.txt"
    hf floor-bash 1 --runs "$RUNS" -n "1,000 x bash -c cat via xargs -P$JOBS" \
        "cd $WORK/floor && seq 1000 | xargs -P$JOBS -I{} bash -c 'set -euo pipefail; cat in.txt > out{}.txt'"
    ;;
*) echo "unknown suite '$suite'" >&2; exit 2 ;;
esac
done

log "summary (seconds)"
python3 - "$WORK/results" <<'EOF'
import json, pathlib, statistics, sys
res = pathlib.Path(sys.argv[1])
def load(name):
    p = res / f"{name}.json"
    return json.loads(p.read_text())["results"][0] if p.exists() else None
rows = [("no-op rerun, 10k", "noop"), ("plan, fresh 10k", "plan"), ("cold run, 1k", "cold1k"),
        ("cold run, 10k", "cold10k"), ("floor: 1k bash spawns", "floor")]
print(f"{'benchmark':<24} {'tool':<10} {'median':>8} {'min':>8} {'max':>8} {'stddev':>8} {'runs':>5} {'other CPU':>10}")
for label, key in rows:
    found = {}
    for tool in ("flow", "snakemake", "bash"):
        r = load(f"{key}-{tool}")
        if not r: continue
        t = r["times"]
        found[tool] = statistics.median(t)
        sd = statistics.stdev(t) if len(t) > 1 else 0.0
        load_file = res / f"{key}-{tool}.load"
        other = int(load_file.read_text()) if load_file.exists() else 0
        flag = "  (busy: remeasure)" if other >= 10 else ""
        print(f"{label:<24} {tool:<10} {statistics.median(t):8.3f} {min(t):8.3f} {max(t):8.3f} {sd:8.3f} {len(t):5d} {other:>9}%{flag}")
    if "flow" in found and "snakemake" in found:
        print(f"{'':<24} {'ratio':<10} snakemake/flow = {found['snakemake'] / found['flow']:.1f}x")
EOF
echo "load averages at each measurement: $WORK/results/loadavg.txt" >&2
