#!/usr/bin/env bash
# Indexing a DICOM collection of about 10,000 files (issue 15): a synthetic cohort of 360
# patients, 245 of them with imaging, written as DICOM (40 CT slices each, plus a SEG or
# RTSTRUCT: 10,045 files), copied into a project as a `file:` folder, then indexed by a
# workflow of one imaging.dicom_index node.
#
#   benches/dicom_index.sh [FLOW_BINARY]      (default: target/release/flow)
#
# Prints the wall time of: the first index (every header read), a no-op run (nothing changed:
# flow stats the files, the node is cached), and a run after one slice changed (the node reruns;
# its header cache answers the others), with the node's own time from its log.
set -euo pipefail
flow=$(realpath "${1:-target/release/flow}")
work=$(mktemp -d /tmp/flow-dicom-index.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

mkdir maker && cat > maker/flow.yaml <<'YAML'
nodes:
  cohort:
    uses: synth.nsclc_cohort
    with: { patients: 360, imaging_format: dicom }
YAML
(cd maker && "$flow" run -q flow.yaml)
tree=$(cd maker && "$flow" path cohort.imaging)
mkdir project && cp -r "$tree" project/collection && chmod -R u+w project/collection
rm -rf maker
cat > project/flow.yaml <<'YAML'
nodes:
  index:
    uses: imaging.dicom_index
    in: { collection: file:collection }
    with: { roi: "gtv|tumou?r", modality: CT }
YAML
cd project
files=$(find collection -type f | wc -l)
sync
timed() {
    local start end
    start=$(date +%s.%N)
    "$flow" run -q flow.yaml
    end=$(date +%s.%N)
    printf '%-46s %6.3f s   node: %s\n' "$1" "$(echo "$end - $start" | bc)" \
        "$("$flow" log index 2>/dev/null | grep -o '[0-9]* files ([0-9]* headers read.*' || true)"
}
echo "$files files"
timed "first index (every header read)"
timed "no-op run (nothing changed)"
slice=$(find collection -name '1-005.dcm' | sort | head -1)
python3 - "$slice" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, 'rb').read())
data[-2] ^= 1
open(path, 'wb').write(data)
PY
timed "one slice changed (the node reruns)"
timed "no-op run again"
