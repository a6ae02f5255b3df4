"""Scratch vs ImageNet start: ResNet-50 and ViT-B/16, each from torchvision's ImageNet-1k weights and from an untrained
copy of the same architecture (--weights=random), on the same fine-tune recipe and budget (configs/finetune_*.py).
The ViT paper's point is that a ViT needs the pre-training far more than a ResNet does; this measures the gap on CIFAR-10.
A GPU study (224 px: an epoch of ViT-B/16 takes hours on a CPU); without one it says so and stops.

    python exps/pretrained.py --dataset=imagefolder --data_dir=/tmp/data/cifar10     # 4 runs of 10 epochs
    python exps/pretrained.py --smoke      # seconds on a CPU: tiny torchvision-shaped random weights, 2 steps
"""
import os
import sys

import common

RECIPES = {'resnet50': 'configs/finetune_resnet50.py', 'vit_b16': 'configs/finetune_vit_b16.py'}


def recipe(path):
    namespace = {}
    exec(open(os.path.join(common.ROOT, path)).read(), {}, namespace)
    return namespace


def smoke_weights(folder, write):
    """--smoke: random state dicts shaped as torchvision's (a 1-block ViT at 64 px, a ResNet-50), saved in folder."""
    paths = {m: os.path.join(folder, f'smoke_{m}.pth') for m in RECIPES}
    if write:
        import torch
        import torchvision
        os.makedirs(folder, exist_ok=True)
        tiny_vit = torchvision.models.vision_transformer.VisionTransformer(64, 8, 1, 2, 32, 64)
        torch.save(tiny_vit.state_dict(), paths['vit_b16'])
        torch.save(torchvision.models.resnet50().state_dict(), paths['resnet50'])
    return paths


args = common.parse('pretrained')
if args.smoke:  # the plumbing only: positions resized from 8x8 to 4x4 patches, a new head, 2 steps
    paths = smoke_weights(os.path.join(args.out_dir, 'pretrained'), write=not args.list)
    recipes = {'resnet50': dict(model='resnet50', weights=paths['resnet50']),
               'vit_b16': dict(model='vit', dim=32, depth=1, heads=2, mlp_ratio=2.0, patch_size=8, patch_norm=False,
                               norm_eps=1e-6, weights=paths['vit_b16'])}
else:
    recipes = {name: recipe(path) for name, path in RECIPES.items()}
    if not args.list:
        import torch
        if not torch.cuda.is_available():
            sys.exit("exps/pretrained.py needs a GPU: torch sees none here. Its runs fine-tune ResNet-50 and ViT-B/16 at "
                     "224 px (hours per epoch on a CPU). --list prints their commands, --smoke checks the plumbing on a CPU.")
grid = []
for name, flags in recipes.items():
    grid += [(f'{name}_scratch', {**flags, 'weights': 'random'}), (f'{name}_imagenet', flags)]
common.summarise(args, common.run(args, grid))
