#!/usr/bin/env bash
# Every row of issue 18's table, each against its baseline measured in the same run, then one table.
#
#     benchmarks/idle_table.sh [LOG_DIR]        # ~5 minutes on an idle 2-core machine
#
# Run it on an idle machine (training paused): each benchmark prints its figure and its ratio to a
# baseline taken in the same process, interleaved, so a busy machine shifts both alike, but the
# absolute figures in the issue's targets are idle-machine figures. Each row has a time limit, so
# the whole run stays under ~8 minutes; a row that runs out says so and the others still run.
# Full outputs are kept in LOG_DIR (default: a new folder under /tmp). SLACK=3 multiplies every
# limit (to check the script end to end on a loaded machine).
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    for c in .venv/bin/python ../main/.venv/bin/python ../../main/.venv/bin/python python3; do
        if [ -x "$c" ] || command -v "$c" >/dev/null 2>&1; then PY=$c; break; fi
    done
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
LOG=${1:-$(mktemp -d /tmp/idle_table.XXXXXX)}
mkdir -p "$LOG"
START=$(date +%s)
echo "python $PY; logs in $LOG; load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null); $(date)"

# One photo the slider row also edits (the shared data sit beside the checkout or a worktree's).
PHOTO=""
for d in ../shared/data ../../shared/data; do
    if [ -d "$d/utkface-500" ]; then PHOTO=$(ls "$d"/utkface-500/*.jpg | head -1); break; fi
done

# name | limit s | command (run from the repository root)
ROWS=(
  "tsne|200|benchmarks/embedding.py --skip-sklearn"
  "scatter|150|benchmarks/scatter_map.py --repeat 2"
  "slider|150|benchmarks/slider_latency.py --n 120${PHOTO:+ --photo $PHOTO}"
  "photo|150|benchmarks/photo_drop.py --n 8"
  "gif|120|benchmarks/gif_export.py --repeat 1"
  "train|240|benchmarks/train_throughput.py --steps 12 --rounds 3 --limit 3000"
)
declare -A STATUS
for row in "${ROWS[@]}"; do
    IFS='|' read -r name limit cmd <<<"$row"
    limit=$(( limit * ${SLACK:-1} ))
    t0=$(date +%s)
    echo "--- $name: $cmd (limit ${limit} s)"
    # shellcheck disable=SC2086
    timeout "$limit" "$PY" $cmd >"$LOG/$name.log" 2>&1
    rc=$?
    dt=$(( $(date +%s) - t0 ))
    case $rc in
        0) STATUS[$name]="ok, ${dt} s" ;;
        124) STATUS[$name]="TIMED OUT after ${limit} s" ;;
        *) STATUS[$name]="FAILED (exit $rc) after ${dt} s" ;;
    esac
    echo "    ${STATUS[$name]}"
done

# The lines that carry each row's figure and its ratio (see each benchmark's docstring).
pick() {  # file, extended regex
    grep -E "$2" "$LOG/$1.log" 2>/dev/null | sed 's/^/    /'
}
echo
echo "================ issue 18: where the user waits (now, baseline in the same run, ratio) ================"
echo "t-SNE of 9,000 encoded faces (target <= 15 s)                [${STATUS[tsne]}]"
pick tsne '^(pca|tsne|  first partial|t-SNE)'
echo "Scatter: Compute -> painted PCA map, atlas of 3,000 (target <= 1 s)   [${STATUS[scatter]}]"
pick scatter '(median|speed-up)'
echo "Slider -> painted pixels, one face p95 (target <= 8 ms); 4x4 grid p95 (target <= 16 ms); a photo   [${STATUS[slider]}]"
pick slider '^(1x1|4x4|[0-9]x[0-9] while)'
echo "One photo, drop to editable, window and CLI (target <= 1000 ms)   [${STATUS[photo]}]"
pick photo '^(CLI stages|PSNR|window,|first drop)'
echo "GIF export, 240 frames at 512 px (target <= 3 s, smaller file)   [${STATUS[gif]}]"
pick gif '^(previous|now|speed-up)'
echo "Training images/s against the textbook DCGAN loop (target >= 2x)   [${STATUS[train]}]"
pick train '^(textbook|ours|ratio)'
echo "total $(( $(date +%s) - START )) s; load now $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
