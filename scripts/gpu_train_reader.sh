#!/usr/bin/env bash
# Train the reader on a GPU machine in minutes. Every configuration below (learning rate, most
# passes) is trained twice at once: without 4 held-out training articles (then scored on them) and
# on all the training data. The configuration best on the held-out articles is kept
# (scripts/pick_reader.py). Each run trains for MINUTES (evaluation excluded) or its passes,
# whichever ends first, with warmup and linear decay following that budget.
#   scripts/gpu_train_reader.sh DATA BASE RUNS MINUTES [PACK]
# DATA: folder with squad/ and squadshifts/; BASE: the MiniLM base model folder; PACK: where to
# write the chosen weights (fp16, in parts) and the curves.
set -euo pipefail
data=$1 base=$2 runs=$3 minutes=$4 pack=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
# NAME:LR:MAX_PASSES
configs=${CONFIGS:-"lr1e-4-4pass:1e-4:4 lr1e-4:1e-4:100 lr2e-4:2e-4:100"}
read -r -a more <<<"${TRAIN_ARGS:-}"  # extra train_reader.py arguments (smoke tests)
mkdir -p "$runs"
for config in $configs; do
  IFS=: read -r name lr passes <<<"$config"
  for mode in holdout full; do
    extra=(--save-every-epoch)
    [ "$mode" = holdout ] && extra=(--holdout 4)
    python3 "$here/train_reader.py" --data "$data" --base "$base" --out "$runs/$name-$mode" \
      --lr "$lr" --epochs "$passes" --train-minutes "$minutes" --warmup 0.06 --seed 13 \
      --oversample-unanswerable 2 --threads 2 --checkpoint-minutes 1000 "${extra[@]}" "${more[@]}" \
      >"$runs/$name-$mode.log" 2>&1 &
  done
done
status=0
for job in $(jobs -p); do wait "$job" || status=1; done
for log in "$runs"/*.log; do echo "== $log"; { grep "windows/s" "$log" || true; } | tail -n 1; tail -n 2 "$log"; done
[ "$status" = 0 ] || { echo "a training run failed" >&2; exit 1; }
python3 "$here/pick_reader.py" "$runs" ${pack:+--pack "$pack"}
