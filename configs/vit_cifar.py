# A plain ViT from the literature for one GPU: omihub777/ViT-CIFAR (github.com/omihub777/ViT-CIFAR),
# 90.92% CIFAR-10 test after 200 epochs (V100, 2 h 14 min; its README). `python train.py configs/vit_cifar.py`.
# Shape: 7 blocks of width 384, 12 heads, MLP hidden 384 (ratio 1), patch 4 (8 x 8 patches), CLS token,
# learned positions drawn from N(0, 1) and PyTorch's default init, as there.
# Recipe: batch 128, lr 1e-3 -> 1e-5 cosine, 5 warmup epochs, AutoAugment, label smoothing 0.1, no dropout.
# Differs: the source uses Adam with an L2 penalty of 5e-5; we use AdamW with decoupled decay 5e-5 (no decay
# on biases and norms), and keep 5,000 training images for validation, so expect a little below 90.9%.
dim = 384
depth = 7
heads = 12
mlp_ratio = 1.0
patch_size = 4
pos_std = 1.0
patch_norm = False      # the source projects raw patches
init = 'torch'
batch_size = 128
lr = 1e-3
min_lr = 1e-5
weight_decay = 5e-5
epochs = 200
warmup_epochs = 5
grad_clip = 0.0
augment = 'autoaugment'
label_smoothing = 0.1
