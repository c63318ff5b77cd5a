#!/usr/bin/env bash
# The prepared GPU run of issue 19: more training of the default colorizer, on a lent GPU machine, within its time.
#
#   train/gpu/colorize.sh prepare     here (CPU), once: the training pack (.pack) and the wheels the machine's
#                                      Python lacks (.whl), both ignored by git (.git/info/exclude)
#   train/gpu/colorize.sh run         there: `run` with carry [".pack", ".whl"] and the command
#                                      `train/gpu/colorize.sh run`; writes into $OUT the weight file, log.csv,
#                                      validation.csv, loss.png, recipe.json and probe.csv (the timed probe)
#
# Why a pack: the machine receives the working tree alone (64 MiB; the repository is about 41 of them), not
# ../shared/data. Why these wheels: its Python (3.12, torch with CUDA, Pillow, OpenCV, scikit-image, click) lacks
# kornia (+ kornia-rs) and efficientnet-lite-pytorch; PyAV and ffmpeg-python are not needed to train from a pack.
#
# `run` first trains PROBE_STEPS steps (default 60) to time a step, then trains as many steps as fit in BUDGET_S
# seconds (default 420: a 10-minute command with the probe, the machine's start and the copy back), the learning
# rate decaying to 0 over them. Back here: benchmarks/colorize_wide.py --model <the weight file> scores it against
# the bundled model on the wide benchmark (issue 19's targets); publish only what measures better, with its recipe
# copied to train/<its name>.toml first (train/publish.py refuses a run whose recipe is not there: the card links it).
# A dry run on the CPU: DEVICE=cpu BUDGET_S=30 PROBE_STEPS=2 RECIPE=<a shrunk copy> train/gpu/colorize.sh run
set -euo pipefail
cd "$(dirname "$0")/../.."
RECIPE=${RECIPE:-train/gpu/colorize-effnet-video-gpu.toml}
PY=${PYTHON:-python3}

case "${1:-}" in
prepare)
    exclude=$(git rev-parse --git-path info/exclude)      # .git/info/exclude, also from a linked worktree
    mkdir -p "$(dirname "$exclude")"
    for path in /.pack/ /.whl/; do
        grep -qxF "$path" "$exclude" 2>/dev/null || echo "$path" >> "$exclude"
    done
    [ -d .pack ] || $PY -m vidcolor.cli train pack train/colorize-effnet-video.toml .pack --max-mb "${PACK_MB:-15}"
    mkdir -p .whl
    $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
        "kornia==$($PY -c 'import kornia; print(kornia.__version__)')" \
        "kornia_rs==$($PY -c 'import importlib.metadata as m; print(m.version("kornia_rs"))')" \
        "efficientnet-lite-pytorch==$($PY -c 'import importlib.metadata as m; print(m.version("efficientnet-lite-pytorch"))')"
    du -sh .pack .whl
    ;;
run)
    OUT=${OUT:-runs/gpu-out}
    WORK=${WORK:-/tmp/vidcolor-gpu}
    mkdir -p "$OUT"
    rm -rf "$WORK" && mkdir -p "$WORK"
    if ! $PY -c "import kornia, efficientnet_lite_pytorch" 2> /dev/null; then     # the machine lacks them
        $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" .whl/*.whl
        export PYTHONPATH="$WORK/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
    else
        export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    fi
    export PYTHONUNBUFFERED=1
    DEVICE=${DEVICE:-cuda}
    [ "$DEVICE" = cpu ] || nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    $PY -m vidcolor.cli train colorize "$RECIPE" --data .pack --out "$WORK/probe" --steps "${PROBE_STEPS:-60}" \
        --device "$DEVICE" --fresh
    cp "$WORK/probe/log.csv" "$OUT/probe.csv"
    steps=$($PY - "$WORK/probe/log.csv" "${BUDGET_S:-420}" <<'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
first, last = rows[0], rows[-1]          # the first row holds the start-up (cuDNN, workers): time after it
span = int(last["step"]) - int(first["step"])
per_step = (float(last["seconds"]) - float(first["seconds"])) / span if span else float(last["seconds"]) / int(last["step"])
print(max(1, int(float(sys.argv[2]) / per_step)), file=sys.stdout)
print(f"probe: {per_step:.3f} s a step", file=sys.stderr)
PYEOF
)
    echo "training $steps steps" >&2
    $PY -m vidcolor.cli train colorize "$RECIPE" --data .pack --out "$WORK/run" --steps "$steps" --device "$DEVICE" --fresh
    for f in "$WORK"/run/*.safetensors "$WORK"/run/log.csv "$WORK"/run/validation.csv "$WORK"/run/loss.png \
             "$WORK"/run/recipe.json; do
        [ -e "$f" ] && cp "$f" "$OUT/"
    done
    ls -la "$OUT"
    ;;
*)
    echo "usage: train/gpu/colorize.sh prepare|run (see its header)" >&2
    exit 2
    ;;
esac
