# The best ViT recipe we found for 10 minutes of training on a 2-core CPU:
#   python train.py configs/cpu10.py --dataset=imagefolder --data_dir=/tmp/data/cifar10
# Measured: README, Results, "configs/cpu10.py" (3 seeds; logs in results/cpu_10min/cpu10_s*.json).
# A hybrid: the patch embedding is our small conv stem (two 3x3 convs at full resolution, then the 4x4
# patchify), which beat plain and overlapping patches by ~7.5 points in a 4-minute screen. The transformer
# is vit-pytorch's small CIFAR shape (dim 128, 6 blocks, 4 heads of 64), ~2.3x cheaper per image than the
# baseline, so ten minutes see ~10 epochs instead of ~6.
dim = 128
depth = 6
heads = 4
head_dim = 64
mlp_ratio = 2.0
patch_embed = 'conv'
init = 'torch'
pos_std = 1.0
patch_norm = True
batch_size = 256
lr = 2e-3
grad_clip = 0.0
warmup_epochs = 3
time_limit = 10.0
