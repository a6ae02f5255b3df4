#!/bin/bash
# The long tier (exps/long.py, 50 epochs at equal steps) on one GPU, six trainings at once, in calls of a fixed
# length: at the deadline every training gets SIGTERM, writes its checkpoint and log and stops; the next call
# (same machine, same runs folder) resumes them and skips the finished ones. Groups run in the order below.
#   bash exps/gpu_long.sh OUT_DIR SECONDS [cifar10-jpeg.tar.gz]
# Writes OUT_DIR/gpu_long.log and OUT_DIR/runs.tgz (every run's log.json and train.out, no checkpoints).
OUT=${1:?usage: bash exps/gpu_long.sh OUT_DIR SECONDS [cifar10-jpeg.tar.gz]}
SECONDS_LEFT=${2:?usage: bash exps/gpu_long.sh OUT_DIR SECONDS [cifar10-jpeg.tar.gz]}
ARCHIVE=${3:-data/cifar10-jpeg.tar.gz}
DATA=/tmp/vitlab-data RUNS=runs/gpu_long  # runs/ is ignored, so it stays on a warm machine between calls
mkdir -p "$OUT" "$DATA" "$RUNS"
exec > >(tee -a "$OUT/gpu_long.log") 2>&1
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
[ -d $DATA/cifar10 ] || tar xzf "$ARCHIVE" -C "$DATA"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no GPU: $(nproc) CPU cores"
LONG="python3 exps/long.py configs/cpu10.py --epochs=50 --time_limit=0 --seeds=0,1 --dataset=imagefolder
  --data_dir=$DATA/cifar10 --out_dir=$RUNS --parallel=6 --devices=0"
(
  # first what a CPU cannot do (the ResNet-18 on all images, which is also the staircase's teacher, and the
  # staircase), then the screen's questions at the full length, then what the CPU tier already ran at half length
  $LONG --only=resnet18,std,std+reg
  $LONG --only=std+reg+stem,std+reg+stem+ls,cpu10,std+reg+stem+ls+distill
  $LONG --only=linear,pos_none,pos_sincos2d,pos_rope2d,aug_trivial,aug_full
  $LONG --only=best,best_lr1e-3,cpu10_lr1e-3,patch8,resnet18_adamw,cpu10_half,layerscale
  $LONG --only=aug_full_half,best_half,patch8_half,linear_half,aug_trivial_half,pos_none_half,pos_sincos2d_half,pos_rope2d_half,layerscale_half
  $LONG --only=cpu10_10pct,cpu10_25pct,cpu10_50pct,resnet18_10pct,resnet18_25pct,resnet18_50pct,aug_full_10pct,aug_trivial_10pct,linear_10pct,cpu10_10pct_x2,aug_trivial_10pct_x2
) & queue=$!
deadline=$((SECONDS + SECONDS_LEFT))
while kill -0 $queue 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 5; done
if kill -0 $queue 2>/dev/null; then
  echo "=== deadline: stopping the trainings (they checkpoint; the next call resumes them)"
  kill -9 $queue; pkill -9 -f "exps/long.py.*--out_dir=$RUNS"  # first the runners, so that no new training starts
  pkill -TERM -f "train.py.*--out_dir=$RUNS/"
  for i in $(seq 60); do pgrep -f "train.py.*--out_dir=$RUNS/" > /dev/null || break; sleep 1; done
fi
wait $queue 2>/dev/null
python3 plots/table.py --runs=$RUNS
tar czf "$OUT/runs.tgz" -C "$RUNS" --exclude='*.pt' .
