# PoorViTs (seed project 001): its baseline, 93.65% CIFAR-10 "Val/Acc" in its README's main-results table
# (4,658 s on its GPU). One GPU: `python train.py configs/poorvits.py`.
# Read from github.com/erow/PoorViTs as its fork chrisjmccormick/PoorViTs_subspaces keeps it, at commit
# 8bb105e178308e8824511906093a22a7c7fffa1b (the PoorViTs author's last commit, "change readme"): finetune.py (the
# argparse defaults are the recipe), models/build_model.py, models/vit.py, utils/scheduler.py, utils/sampler.py.
# Its "Val/Acc" is measured on the CIFAR-10 test set (every 5 epochs; the code keeps the best); ours selects on 5,000
# held-out training images and tests once, so expect a little less. Its other columns, as flags here: no AutoAugment
# 92.14 (--augment=none), no mixup 93.68 (--mixup=0), no CutMix 92.77 (--cutmix=0), 2-D sincos positions 93.43
# (--pos_emb=sincos2d; its CLS position is zero: --cls_pos=False is closest), whitening init 93.28
# (--patch_init=whiten), Lion at batch 1024 92.38 (--optimizer=lion --batch_size=1024; its learning rate is not in
# the repository). Not mappable: its MLA variants (latent width 64, no norm; 'q' = low-rank queries with full keys
# and values, 93.32%): ours (--attn=mla) always shares a normalised key/value latent.
#
# Steps: its baseline ran without torchrun (the DDP columns are separate), where the sampler draws 3 passes of 50,000
# images per epoch with no repetition: 100 epochs x 585 steps of 256 = 58,500 steps, 10 epochs = 5,850 of warmup.
# Ours: an epoch is 45,000 / 256 = 175 steps, so 334 epochs = 58,450 steps and 33 of warmup = 5,775.
# Left as ours: weight decay skips biases and norm gains (it decays every parameter); truncated-normal init also on
# the patch projection (its conv keeps PyTorch's); torchvision's AutoAugment CIFAR-10 policy (it uses the DeepVoltaire
# implementation of the same policy); random erasing of up to 1/3 of the image, noise-filled (its: up to 0.4, filled
# with the mean colour); bf16 autocast (its: fp16 with a gradient scaler).
dim = 192
depth = 12
heads = 12              # head width 16
mlp_ratio = 2.0
patch_size = 4
bias = True             # qkv_bias=True
norm_eps = 1e-6         # LayerNorm(eps=1e-6)
patch_norm = False      # raw patches into the projection
init = 'trunc_normal'   # std 0.02, zero biases
pos_std = 0.02          # learned positions, CLS position included, trunc_normal(0.02)
drop_path = 0.1         # --sd 0.1, linear over depth
batch_size = 256
optimizer = 'adamw'
lr = 1e-3
min_lr = 1e-6           # its cosine runs from 1e-6 up (warmup) and back to 1e-6
weight_decay = 0.05
grad_clip = 0.0
label_smoothing = 0.1
epochs = 334
warmup_epochs = 33
augment = 'autoaugment' # after pad-4 crop and flip, as ours
erasing = 0.25
mixup = 1.0
cutmix = 1.0
mix_prob = 0.5          # half the batches mixed, half of those by CutMix
mix_switch_prob = 0.5
repeat_aug = 1
