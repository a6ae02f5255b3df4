#!/bin/bash
# One call on a lent GPU (15 minutes of device time in all, so every step has its own timeout and a step that
# fails does not stop the next). Proves the CUDA path and runs the one comparison the 2-minute CPU budget
# cannot make: ViT vs ResNet-18, and the best combination vs the baseline, at EQUAL EPOCHS (10, 2 seeds).
#   bash exps/gpu.sh OUT_DIR [CIFAR-10 archive]     (the archive: ../shared/data/cifar10-jpeg.tar.gz)
# Writes OUT_DIR/gpu.log (everything), bench*.json and runs.tgz (every run's log.json and train.out).
# Kept in results/gpu_h200/: gpu.log, bench*.json, the six runs' log.json as equal_epochs/<run>.json, the two
# 30-step runs as checks/.
OUT=${1:?usage: bash exps/gpu.sh OUT_DIR [cifar10-jpeg.tar.gz]}
ARCHIVE=${2:-data/cifar10-jpeg.tar.gz}
DATA=/tmp/vitlab-data RUNS=/tmp/vitlab-gpuruns
mkdir -p "$OUT" "$DATA" "$RUNS"
exec > >(tee -a "$OUT/gpu.log") 2>&1
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
step() { echo; echo "=== $(date +%T) $*"; }
CIFAR="--dataset=imagefolder --data_dir=$DATA/cifar10"

step machine
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, torch.cuda.get_device_name())"
tar xzf "$ARCHIVE" -C "$DATA"

step "one short eager run: decodes the data once (its cache serves the runs below), trains, tests"
timeout 60 python3 train.py configs/cpu10.py $CIFAR --time_limit=0 --epochs=1 --max_steps=30 --compile=False \
  --out_dir=$RUNS --name=smoke || echo "FAILED rc=$?"

step "CUDA tests"
timeout 90 python3 -m pytest -v -p no:cacheprovider tests/test_cuda.py || echo "FAILED rc=$?"

step "torchrun, 1 NCCL rank"
timeout 40 torchrun --standalone --nproc_per_node=1 train.py configs/cpu10.py $CIFAR --time_limit=0 --epochs=1 \
  --max_steps=30 --compile=False --out_dir=$RUNS --name=torchrun1 || echo "FAILED rc=$?"

step "equal epochs: baseline and best (picked on validation from results/cpu_2min), ResNet-18; 6 runs at once"
BUDGET="configs/cpu10.py --epochs=10 --time_limit=0 --seeds=0,1 $CIFAR --out_dir=$RUNS --devices=0"
timeout 220 python3 exps/best.py $BUDGET --pick_from=results/cpu_2min --parallel=4 & best=$!
timeout 220 python3 exps/resnet.py $BUDGET --only=resnet18 --parallel=2 & resnet=$!
wait $best $resnet  # not a bare wait: it would also wait for the tee above, which never ends

step "bench (alone on the GPU): the cpu10 model at batch 256, ViT-Base at batch 512 (fills the GPU), ResNet-18; bf16"
timeout 70 python3 bench.py configs/cpu10.py --dtypes=bfloat16 --references=False --fill= --out="$OUT/bench.json" \
  || echo "FAILED rc=$?"
timeout 90 python3 bench.py --preset=base --batch_size=512 --dtypes=bfloat16 --references=False --fill= \
  --out="$OUT/bench_base.json" || echo "FAILED rc=$?"
timeout 40 python3 bench.py --model=resnet18 --batch_size=256 --modes=eager --dtypes=bfloat16 --references=False \
  --fill= --out="$OUT/bench_resnet18.json" || echo "FAILED rc=$?"

step "runs"
python3 plots/table.py --runs=$RUNS   # the project's own tables: mean ± std over seeds, steps, cost
tar czf "$OUT/runs.tgz" -C "$RUNS" --exclude='*.pt' .
