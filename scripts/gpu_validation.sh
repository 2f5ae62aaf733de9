#!/usr/bin/env bash
# GPU validation: the paper's ResNet-18 / CIFAR-10 / 10 % benchmark, one seed, on a fresh GPU
# machine that has only PyTorch, torchvision, timm, seaborn and scikit-learn and no internet.
#
# Prepare here (packs the CIFAR-10 image folders into one 55 MiB file that travels with the tree):
#   mkdir -p .gpu && echo /.gpu/ >> .git/info/exclude
#   .venv/bin/python scripts/pack_cifar10.py pack "$LOTUS_DATA" .gpu/cifar10-jpeg.pt
# Run there (the device tool: carry .gpu, results under $OUT):
#   LOTUS_GIT_COMMIT=<commit> bash scripts/gpu_validation.sh
# Test here on the CPU first (digits, the tiny profile, a few seconds per method):
#   OUT=/tmp/gpu-test PROFILE=tiny bash scripts/gpu_validation.sh
#
# Environment:
#   OUT       output folder (default _build/gpu): log.txt, records.jsonl, table.md, provenance.json
#   PROFILE   paper (default) or tiny
#   EPOCHS    training epochs for the original and gold models (paper: 150; default 40, the
#             shortened recipe: 8 warm-up epochs then linear decay, no early stopping, bf16)
#   SEED      default 3407 (the authors' first seed)
#   METHODS   default "original gold lotus scrub finetune random_labeling"
#   PACK      packed data (default .gpu/cifar10-jpeg.pt)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-_build/gpu}
PROFILE=${PROFILE:-paper}
EPOCHS=${EPOCHS:-40}
SEED=${SEED:-3407}
METHODS=${METHODS:-"original gold lotus scrub finetune random_labeling"}
PACK=${PACK:-.gpu/cifar10-jpeg.pt}
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export LOTUS_CACHE="$WORK/cache"
start=$(date +%s)

if [ "$PROFILE" = "tiny" ]; then
  args=(--profile tiny --dataset digits --model small_cnn)
else
  DATA="$WORK/data"
  if [ ! -d "$DATA/cifar10/train" ]; then
    [ -f "$PACK" ] || { echo "packed CIFAR-10 not found at $PACK (see the header of this script)" >&2; exit 2; }
    "$PY" scripts/pack_cifar10.py unpack "$PACK" "$DATA"
  fi
  warm=$(( EPOCHS / 5 ))
  args=(--profile paper --dataset cifar10 --model resnet18 --data-root "$DATA"
        --train "epochs=$EPOCHS" "warmup_epochs=$warm" patience=null amp=true channels_last=true)
fi

# shellcheck disable=SC2086
"$PY" -m lotus.cli run "${args[@]}" --methods $METHODS --seeds "$SEED" --results "$WORK/records" 2>&1 | tee "$OUT/log.txt"

"$PY" - "$WORK/records" "$OUT" "$PROFILE" "$EPOCHS" "$start" <<'EOF'
import json, sys, time
from pathlib import Path

from lotus.results import ResultsStore, provenance, summarize

records, out, profile, epochs, start = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
df = ResultsStore(records).records()
with open(out / "records.jsonl", "w") as fh:
    for f in sorted(records.rglob("*.json")):
        fh.write(json.dumps(json.loads(f.read_text()), sort_keys=True) + "\n")
prov = dict(provenance(), profile=profile, train_epochs=int(epochs), wall_seconds=round(time.time() - start, 1),
            date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
(out / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
cols = ["method", "acc_forget", "acc_retain", "acc_test", "acc_val", "mia", "jsd", "rf_jsd", "avg_gap", "unlearn_seconds"]
table = df[[c for c in cols if c in df]].sort_values("method")
(out / "table.md").write_text(table.to_markdown(index=False, floatfmt=".4f") + "\n" if hasattr(table, "to_markdown") else table.to_string(index=False) + "\n")
print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
print(json.dumps(prov, indent=2))
EOF
echo "[gpu_validation] done in $(( $(date +%s) - start )) s; outputs in $OUT"
