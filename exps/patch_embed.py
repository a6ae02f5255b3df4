"""Patch embedding: linear (non-overlapping), overlap (kernel > stride), conv (small CNN stem), resnet18 (the
first three stages of a CIFAR ResNet-18 as the stem: stride 4, the baseline's 64 tokens; add
--stem_init=runs/resnet/resnet18_s0/ckpt_best.pt --stem_freeze_epochs=N to start it from a trained ResNet)."""
import common

args = common.parse('patch_embed')
grid = [(k, dict(patch_embed=k)) for k in ('linear', 'overlap', 'conv', 'resnet18')]
common.summarise(args, common.run(args, grid))
