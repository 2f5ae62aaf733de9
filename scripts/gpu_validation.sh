#!/usr/bin/env bash
# GPU validation: the paper's ResNet-18 / CIFAR-10 / 10 % benchmark, one seed, on a fresh GPU
# machine that has only PyTorch (with torchvision), timm, seaborn and scikit-learn and no
# internet. Nothing else is needed: the package is read from this tree (PYTHONPATH), and the
# Markdown table is written by `lotus report`, which needs no optional package.
#
# The one command, in two halves (the device tool sends the tree, so the sending is a call, not
# a shell line):
#   1. here, once per commit:   bash scripts/gpu_validation.sh prepare
#      packs CIFAR-10 from $LOTUS_DATA into .gpu/cifar10-jpeg.pt (55 MiB; skipped when present),
#      records the commit in .gpu/commit, and prints the device call of step 2;
#   2. the device tool:         run(command="bash scripts/gpu_validation.sh", carry=[".gpu"],
#                                   timeout_s=570)
#      unpacks the data there, runs, and leaves log.txt, records.jsonl, table.md, records.md and
#      provenance.json in $OUT (they come back with the call).
# Test here on the CPU first (digits, the tiny profile, a few seconds per method):
#   OUT=/tmp/gpu-test PROFILE=tiny bash scripts/gpu_validation.sh
#
# Environment:
#   OUT       output folder (default _build/gpu): log.txt, records.jsonl, table.md, records.md,
#             provenance.json
#   PROFILE   paper (default) or tiny
#   EPOCHS    training epochs for the original and gold models (paper: 150; default 40, the
#             shortened recipe: 8 warm-up epochs then linear decay, no early stopping, bf16)
#   SEED      default 3407 (the authors' first seed)
#   METHODS   default "original gold lotus scrub finetune random_labeling"
#   PACK      packed data (default .gpu/cifar10-jpeg.pt)
#   LOTUS_GIT_COMMIT  the commit recorded in provenance (default: .gpu/commit, else git)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-_build/gpu}
PROFILE=${PROFILE:-paper}
EPOCHS=${EPOCHS:-40}
SEED=${SEED:-3407}
METHODS=${METHODS:-"original gold lotus scrub finetune random_labeling"}
PACK=${PACK:-.gpu/cifar10-jpeg.pt}
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1

if [ "${1:-}" = "prepare" ]; then
  mkdir -p .gpu
  if [ ! -f "$PACK" ]; then
    [ -n "${LOTUS_DATA:-}" ] || { echo "set LOTUS_DATA to the folder holding cifar10/{train,test}" >&2; exit 2; }
    "$PY" scripts/pack_cifar10.py pack "$LOTUS_DATA" "$PACK"
  fi
  commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit (with uncommitted changes)"; fi
  echo "$commit" > .gpu/commit
  echo "prepared: $PACK ($(du -h "$PACK" | cut -f1)), commit $commit"
  echo 'now call the device tool: run(command="bash scripts/gpu_validation.sh", carry=[".gpu"], timeout_s=570)'
  exit 0
fi

if [ -z "${LOTUS_GIT_COMMIT:-}" ] && [ -f .gpu/commit ]; then
  LOTUS_GIT_COMMIT=$(cat .gpu/commit)
  export LOTUS_GIT_COMMIT
fi
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$OUT"
export LOTUS_CACHE="$WORK/cache"
start=$(date +%s)

if [ "$PROFILE" = "tiny" ]; then
  args=(--profile tiny --dataset digits --model small_cnn)
  EPOCHS=0  # the tiny profile's own recipe
else
  DATA="$WORK/data"
  if [ ! -d "$DATA/cifar10/train" ]; then
    [ -f "$PACK" ] || { echo "packed CIFAR-10 not found at $PACK (run: bash scripts/gpu_validation.sh prepare)" >&2; exit 2; }
    "$PY" scripts/pack_cifar10.py unpack "$PACK" "$DATA"
  fi
  warm=$(( EPOCHS / 5 ))
  args=(--profile paper --dataset cifar10 --model resnet18 --data-root "$DATA"
        --train "epochs=$EPOCHS" "warmup_epochs=$warm" patience=null amp=true channels_last=true)
fi

# --keep-going: a method that fails is listed at the end; the others' records are kept
set +e
# shellcheck disable=SC2086
"$PY" -m lotus.cli run "${args[@]}" --methods $METHODS --seeds "$SEED" --results "$WORK/records" --keep-going \
  2>&1 | tee "$OUT/log.txt"
status=${PIPESTATUS[0]}
set -e

# the tables: `lotus report` (Markdown without optional packages)
"$PY" -m lotus.cli report "$WORK/records" --format markdown -o "$OUT/table.md"
"$PY" -m lotus.cli report "$WORK/records" --raw --format markdown -o "$OUT/records.md" \
  --columns method seed acc_forget acc_retain acc_test acc_val mia jsd rf_jsd avg_gap unlearn_seconds flags
"$PY" -m lotus.cli report "$WORK/records" --format text | tee -a "$OUT/log.txt"

"$PY" - "$WORK/records" "$OUT" "$PROFILE" "$EPOCHS" "$start" <<'EOF'
import json, sys, time
from pathlib import Path

from lotus.results import provenance

records, out, profile, epochs, start = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
with open(out / "records.jsonl", "w") as fh:
    for f in sorted(records.glob("*.json")):
        fh.write(json.dumps(json.loads(f.read_text()), sort_keys=True) + "\n")
prov = dict(provenance(), profile=profile, train_epochs=int(epochs) or "the profile's", wall_seconds=round(time.time() - start, 1),
            date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
(out / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
print(json.dumps(prov, indent=2))
EOF
echo "[gpu_validation] done in $(( $(date +%s) - start )) s (lotus run exit status $status); outputs in $OUT"
exit "$status"
