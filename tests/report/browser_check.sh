#!/usr/bin/env bash
# Opens a flow report in headless Chromium (Debian's `chromium`) and checks that the browser lays
# out every figure with a non-empty drawing; writes a full-page screenshot to look at.
#
#   tests/report/browser_check.sh results/report [screenshot.png]
#
# Run by hand (cargo's tests do not need a browser); prints one line per figure and exits 1 if
# any figure is blank or missing. Chromium draws the page as a reader's browser would: the
# check is that its SVG engine accepts every figure and gives each a non-zero bounding box.
set -euo pipefail
REPORT="${1:?usage: $0 REPORT_DIR [SCREENSHOT.png]}"
SHOT="${2:-report-screenshot.png}"
BROWSER="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$BROWSER" ] || { echo "no chromium on PATH (apt-get install chromium)" >&2; exit 2; }
[ -f "$REPORT/report.html" ] || { echo "$REPORT/report.html does not exist" >&2; exit 2; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp -r "$REPORT"/. "$WORK/"
# A copy of the page that reports, into its own DOM, what the browser made of each figure.
cat >>"$WORK/report.html" <<'HTML'
<script>
const lines = [];
document.querySelectorAll('figure').forEach((figure, i) => {
  const drawing = figure.querySelector('svg, img');
  const caption = (figure.querySelector('figcaption') || {}).textContent || '';
  let ok = false;
  if (drawing) {
    const box = drawing.getBoundingClientRect();
    const inner = drawing.tagName.toLowerCase() === 'svg' ? drawing.getBBox()
      : { width: drawing.naturalWidth, height: drawing.naturalHeight };
    ok = box.width > 0 && box.height > 0 && inner.width > 0 && inner.height > 0;
  }
  lines.push((ok ? 'ok     ' : 'BLANK  ') + 'figure ' + (i + 1) + ': ' + caption.slice(0, 70));
});
// The tag is built in pieces so that only the element, not this script, matches it below.
document.body.insertAdjacentHTML('beforeend', '<pre id="flow-' + 'check">' + lines.join('\n') + '</' + 'pre>');
</script>
HTML
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=5000)
"$BROWSER" "${flags[@]}" --dump-dom "file://$WORK/report.html" 2>/dev/null >"$WORK/dom.html"
"$BROWSER" "${flags[@]}" --window-size=1280,6000 --screenshot="$WORK/shot.png" "file://$WORK/report.html" \
    >/dev/null 2>&1 || true
sed -n '/<pre id="flow-check">/,/<\/pre>/p' "$WORK/dom.html" | sed 's/<[^>]*>//g' | sed '/^$/d' | tee "$WORK/check.txt"
figures=$(grep -c '^ok\|^BLANK' "$WORK/check.txt" || true)
blank=$(grep -c '^BLANK' "$WORK/check.txt" || true)
[ -f "$WORK/shot.png" ] && cp "$WORK/shot.png" "$SHOT" && echo "screenshot: $SHOT"
if [ "$figures" -eq 0 ] || [ "$blank" -gt 0 ]; then
    echo "FAILED: $figures figure(s), $blank blank" >&2
    exit 1
fi
echo "all $figures figures render"
