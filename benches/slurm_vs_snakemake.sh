#!/usr/bin/env bash
# flow and Snakemake on the same Slurm cluster, the same per-item workflow: N items, three steps
# per item (`pre -> feat -> score`), then one gather. Wall time to done, sbatch and status calls
# (counted by wrappers on PATH), and the controller's CPU time (user+sys of the process tree
# that runs on the submitting host: flow's controller, Snakemake's main process; the jobs'
# own CPU is not in it). Run by hand; numbers go to docs/benchmarks.md and docs/slurm.md.
#
#   python3 -m venv /tmp/smk-slurm
#   /tmp/smk-slurm/bin/pip install 'snakemake>=9,<10' snakemake-executor-plugin-slurm
#   cargo build --release -p flow
#   eval "$(tests/slurm/cluster.sh start)"
#   PATH=/tmp/smk-slurm/bin:$PATH N=500 POLL=5 benches/slurm_vs_snakemake.sh
#
# Both tools poll every POLL seconds and ask for 500 MB per job (a job running Snakemake holds
# ~150 MB). flow submits job arrays; Snakemake one job per rule instance, its default.
# Snakemake's plugin waits 40 s before its first status call and adds 10 s per call that sees
# nothing finish (up to 180 s); here it starts at POLL like flow
# (`--slurm-init-seconds-before-status-checks`), and it polls with `squeue` because this cluster
# has no slurmdbd (`--slurm-status-command squeue`; its default, `sacct`, fails without
# accounting). SMK_ARRAYS=1 adds `--slurm-array-jobs=all` with arrays of JOBS/2 tasks: with
# plugin 2.8.0 on this cluster that stalled twice at N=500 (no job in the queue, the main
# process at 64% CPU in "Select jobs to execute"): after 1 of 1,503 jobs with its default
# 1,000-task chunks, after 100 with 50-task chunks. It submits an array only once a full chunk
# of a rule's jobs is ready, or all of them, which -j can keep from ever happening.
#
# A Snakemake job costs ~7 s of CPU here (Python and Snakemake start twice: the job, then its
# srun step), so on a 2-CPU cluster N=500 keeps Snakemake busy for well over an hour.
set -euo pipefail
FLOW="$(realpath "${FLOW:-target/release/flow}")"
N="${N:-500}"
POLL="${POLL:-5}"
JOBS="${JOBS:-100}"
command -v snakemake >/dev/null || { echo "no snakemake on PATH: see the header of $0" >&2; exit 2; }
scontrol ping | grep -q UP || { echo "no Slurm controller answers: see the header of $0" >&2; exit 2; }
WORK="$(mktemp -d /tmp/flow-slurm-vs-smk.XXXXXX)"

# Snakemake's job-side plugin (slurm-jobstep) clears every SLURM_* variable but a few before its
# `srun`, SLURM_CONF among them, so the step looks for /etc/slurm/slurm.conf. Where there is
# none, point it at this cluster's for the length of the benchmark (and remove only that link).
LINKED_CONF=
if [ -n "${SLURM_CONF:-}" ] && [ ! -e /etc/slurm/slurm.conf ] && [ -w /etc/slurm ]; then
    ln -s "$SLURM_CONF" /etc/slurm/slurm.conf && LINKED_CONF=/etc/slurm/slurm.conf
fi
cleanup() {
    [ -z "$LINKED_CONF" ] || rm -f "$LINKED_CONF"
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Wrappers that log each call, then run the real command.
mkdir -p "$WORK/bin"
for program in sbatch squeue sacct; do
    real=$(command -v "$program")
    printf '#!/bin/bash\necho "%s $*" >> "${CALLS_LOG:-/dev/null}"\nexec %s "$@"\n' "$program" "$real" \
        >"$WORK/bin/$program"
    chmod +x "$WORK/bin/$program"
done
export PATH="$WORK/bin:$PATH"

setup() { # DIR
    mkdir -p "$1"
    seq -f 'item%04g' 1 "$N" >"$1/items.txt"
    cat >"$1/flow.yaml" <<'YAML'
nodes:
  items: { uses: shell, in: { list: file:items.txt }, with: { run: "mkdir -p {out.d} && while read i; do echo $i > {out.d}/$i.txt; done < {in.list}", outputs: { d: dir } } }
  pre:   { uses: shell, map: d, resources: { memory: 500M }, in: { d: items.d }, with: { run: "cat {in.d} > {out.o}; echo pre >> {out.o}", outputs: { o: file } } }
  feat:  { uses: shell, map: p, resources: { memory: 500M }, in: { p: pre.o },   with: { run: "cat {in.p} > {out.o}; echo feat >> {out.o}", outputs: { o: file } } }
  score: { uses: shell, map: f, resources: { memory: 500M }, in: { f: feat.o },  with: { run: "cat {in.f} > {out.o}; echo score >> {out.o}", outputs: { o: file } } }
  gather: { uses: shell, resources: { local: true }, in: { s: score.o }, with: { run: "cat {in.s}/* | md5sum > {out.o}", outputs: { o: file } } }
publish: { gather.o: results/gather.txt }
YAML
    cat >"$1/Snakefile" <<'SMK'
ITEMS = [line.strip() for line in open("items.txt")]
localrules: all, items, gather
rule all:
    input: "results/gather.txt"
rule items:
    output: expand("work/items/{i}.txt", i=ITEMS)
    run:
        for i in ITEMS:
            open(f"work/items/{i}.txt", "w").write(i + "\n")
rule pre:
    input: "work/items/{i}.txt"
    output: "work/pre/{i}.txt"
    shell: "cat {input} > {output}; echo pre >> {output}"
rule feat:
    input: "work/pre/{i}.txt"
    output: "work/feat/{i}.txt"
    shell: "cat {input} > {output}; echo feat >> {output}"
rule score:
    input: "work/feat/{i}.txt"
    output: "work/score/{i}.txt"
    shell: "cat {input} > {output}; echo score >> {output}"
rule gather:
    input: expand("work/score/{i}.txt", i=ITEMS)
    output: "results/gather.txt"
    shell: "cat work/score/*.txt | md5sum > {output}"
SMK
}

# LABEL DIR COMMAND...: wall, controller CPU, calls.
measure() {
    local label="$1" dir="$2"
    shift 2
    : >"$dir/calls.log"
    local start end
    start=$(date +%s.%N)
    (cd "$dir" && CALLS_LOG="$dir/calls.log" /usr/bin/time -f "%U %S" -o "$dir/cpu.txt" "$@" >"$dir/out.txt" 2>&1) ||
        { echo "$label failed; see below" >&2; tail -30 "$dir/out.txt" >&2; exit 1; }
    end=$(date +%s.%N)
    local sbatch squeue sacct
    sbatch=$(grep -c '^sbatch' "$dir/calls.log" | tr -d ' ' || true)
    sbatch=$((sbatch - $(grep -c '^sbatch --version' "$dir/calls.log" || true)))
    squeue=$(grep -c '^squeue' "$dir/calls.log" || true)
    sacct=$(grep -c '^sacct' "$dir/calls.log" || true)
    awk -v l="$label" -v s="$start" -v e="$end" -v b="$sbatch" -v q="$squeue" -v a="$sacct" \
        '{ printf "%s: wall %.1f s, controller CPU %.2f s, sbatch %d, squeue %d, sacct %d\n", l, e - s, $1 + $2, b, q, a }' \
        "$dir/cpu.txt"
}

ARRAYS=()
[ "${SMK_ARRAYS:-0}" = 1 ] && ARRAYS=(--slurm-array-jobs=all --slurm-array-limit "$((JOBS / 2))")
echo "# $(date -u +%FT%TZ), $(nproc) cores; flow $("$FLOW" --version); snakemake $(snakemake --version)," \
    "plugin $(pip show snakemake-executor-plugin-slurm 2>/dev/null | awk '/^Version/ {print $2}'); $N items x 3 steps"
setup "$WORK/flow"
setup "$WORK/smk"
measure "flow --executor slurm" "$WORK/flow" \
    "$FLOW" run flow.yaml --executor slurm -j "$JOBS" --slurm-poll "$POLL"
measure "snakemake --executor slurm" "$WORK/smk" \
    snakemake --executor slurm -j "$JOBS" "${ARRAYS[@]}" --slurm-status-command squeue \
    --slurm-init-seconds-before-status-checks "$POLL" --seconds-between-status-checks "$POLL" \
    --default-resources mem_mb=500 --latency-wait 5 all
cmp "$WORK/flow/results/gather.txt" "$WORK/smk/results/gather.txt" && echo "same results/gather.txt"
measure "flow (no-op)" "$WORK/flow" "$FLOW" run flow.yaml --executor slurm -j "$JOBS"
measure "snakemake (no-op)" "$WORK/smk" snakemake --executor slurm -j "$JOBS" all
