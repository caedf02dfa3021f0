#!/usr/bin/env bash
# Per-item work side by side: flow's `map` and Snakemake 9 wildcard rules, the same DAG shape
# and commands: `pre -> feat -> store` per sample, then `join -> pca -> train` over all samples.
# Times dry-run/plan, cold run, no-op run and "add one sample" for both tools, on this machine,
# one after the other. Run by hand; numbers go to docs/benchmarks.md.
#
#   python3 -m venv /tmp/smk && /tmp/smk/bin/pip install 'snakemake>=9,<10'
#   cargo build --release -p flow
#   SNAKEMAKE=/tmp/smk/bin/snakemake N=10000 COLD_N=1000 benches/map_vs_snakemake.sh
#
# N samples for plan, no-op and add-one; COLD_N samples for the cold runs (a Snakemake cold run
# of 30,000 jobs takes too long to repeat; flow's cold run at N is in benches/map_scale.sh).
set -euo pipefail
FLOW="$(realpath "${FLOW:-target/release/flow}")"
SNAKEMAKE="${SNAKEMAKE:-snakemake}"
N="${N:-10000}"
COLD_N="${COLD_N:-1000}"
JOBS="${JOBS:-2}"
command -v "$SNAKEMAKE" >/dev/null || { echo "no '$SNAKEMAKE': see the header of $0" >&2; exit 2; }
WORK="$(mktemp -d /tmp/flow-map-vs-smk.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# One project directory per tool and size, each with its own copy of the inputs. The stages
# name their mapped port after what they read: with one name for all, `feat` would be the same
# action as `pre` (same command, same input bytes) and flow's cache would answer it, running a
# third of Snakemake's jobs.
setup() { # DIR N
    mkdir -p "$1/data"
    python3 -c "
import sys
for i in range(int(sys.argv[2])): open(f'{sys.argv[1]}/data/s{i:06d}.txt', 'w').write(f'{i}\n')
" "$1" "$2"
    cat > "$1/flow.yaml" <<'YAML'
nodes:
  pre:   { uses: shell, map: data, in: { data: file:data }, with: { run: "cat {in.data} > {out.o}", outputs: { o: file } } }
  feat:  { uses: shell, map: pre, in: { pre: pre.o },       with: { run: "cat {in.pre} > {out.o}", outputs: { o: file } } }
  store: { uses: shell, map: feat, in: { feat: feat.o },    with: { run: "cat {in.feat} > {out.o}", outputs: { o: file } } }
  join:  { uses: shell, in: { d: store.o }, with: { run: "cat {in.d}/* | sort | md5sum > {out.o}", outputs: { o: file } } }
  pca:   { uses: shell, in: { j: join.o },  with: { run: "cat {in.j} > {out.o}", outputs: { o: file } } }
  train: { uses: shell, in: { p: pca.o },   with: { run: "cat {in.p} > {out.o}", outputs: { o: file } } }
publish: { train.o: results/train.txt }
YAML
    # The same DAG as wildcard rules; `join` globs its inputs in the shell as flow's does (a
    # command line naming 10,000 files exceeds Linux's 128 KiB limit on one argument).
    cat > "$1/Snakefile" <<'SMK'
SAMPLES = glob_wildcards("data/{s}.txt").s
rule all:
    input: "results/train.txt"
rule pre:
    input: "data/{s}.txt"
    output: "work/pre/{s}.txt"
    shell: "cat {input} > {output}"
rule feat:
    input: "work/pre/{s}.txt"
    output: "work/feat/{s}.txt"
    shell: "cat {input} > {output}"
rule store:
    input: "work/feat/{s}.txt"
    output: "work/store/{s}.txt"
    shell: "cat {input} > {output}"
rule join:
    input: expand("work/store/{s}.txt", s=SAMPLES)
    output: "work/join.txt"
    shell: "cat work/store/*.txt | sort | md5sum > {output}"
rule pca:
    input: "work/join.txt"
    output: "work/pca.txt"
    shell: "cat {input} > {output}"
rule train:
    input: "work/pca.txt"
    output: "results/train.txt"
    shell: "cat {input} > {output}"
SMK
}

# Prints "LABEL: WALL s, max RSS KB" of one command run in DIR.
measure() { # LABEL DIR COMMAND...
    local label="$1" dir="$2"
    shift 2
    (cd "$dir" && /usr/bin/time -f "$label: %e s, max RSS %M KB" "$@" 2>&1 >/dev/null | tail -1)
}

SMK=("$SNAKEMAKE" -c"$JOBS" --quiet all)

echo "# $(date -u +%FT%TZ), $(nproc) cores; flow $("$FLOW" --version); snakemake $("$SNAKEMAKE" --version)"
echo "## cold runs, $COLD_N samples ($((3 * COLD_N + 3)) jobs)"
setup "$WORK/cold-flow" "$COLD_N"
setup "$WORK/cold-smk" "$COLD_N"
measure "flow run (cold)" "$WORK/cold-flow" "$FLOW" run -j "$JOBS" flow.yaml
measure "snakemake (cold)" "$WORK/cold-smk" "${SMK[@]}"
cmp "$WORK/cold-flow/results/train.txt" "$WORK/cold-smk/results/train.txt" && echo "same results/train.txt"

echo "## $N samples ($((3 * N + 3)) jobs)"
setup "$WORK/flow" "$N"
setup "$WORK/smk" "$N"
measure "flow plan (fresh)" "$WORK/flow" "$FLOW" plan flow.yaml
measure "snakemake -n (fresh)" "$WORK/smk" "${SMK[@]}" -n
measure "flow run (cold)" "$WORK/flow" "$FLOW" run -j "$JOBS" flow.yaml
if [ "${SMK_COLD_N:-}" = 1 ]; then
    measure "snakemake (cold)" "$WORK/smk" "${SMK[@]}"
else
    # Outputs made by a plain loop, then stamped as Snakemake's own: what it needs for its no-op.
    (cd "$WORK/smk" && mkdir -p work/pre work/feat work/store results &&
        for f in data/*.txt; do b=$(basename "$f"); cat "$f" > "work/pre/$b"; cp "work/pre/$b" "work/feat/$b"; cp "work/feat/$b" "work/store/$b"; done &&
        "$SNAKEMAKE" -c"$JOBS" --quiet all --touch >/dev/null 2>&1 && "$SNAKEMAKE" -c"$JOBS" --quiet all >/dev/null 2>&1)
fi
for i in 1 2 3; do
    measure "flow run (no-op $i)" "$WORK/flow" "$FLOW" run -j "$JOBS" flow.yaml
    measure "snakemake (no-op $i)" "$WORK/smk" "${SMK[@]}"
done
for dir in flow smk; do echo new > "$WORK/$dir/data/s$(printf %06d "$N").txt"; done
measure "flow plan (one sample added)" "$WORK/flow" "$FLOW" plan flow.yaml
measure "snakemake -n (one sample added)" "$WORK/smk" "${SMK[@]}" -n
measure "flow run (one sample added)" "$WORK/flow" "$FLOW" run -j "$JOBS" flow.yaml
measure "snakemake (one sample added)" "$WORK/smk" "${SMK[@]}"
cmp "$WORK/flow/results/train.txt" "$WORK/smk/results/train.txt" && echo "same results/train.txt"
