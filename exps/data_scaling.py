"""Data scaling: train on 10, 25, 50, 100% of the training split, ViT vs ResNet-18. Same epochs
(or time) per run, so smaller subsets also take fewer steps with --epochs; --time_limit equalises."""
import common

args = common.parse('data_scaling')
n = common.train_size(args)
grid = [(f"{m}_{pct}pct", dict(model=m, subset=int(n * pct / 100) if pct < 100 else 0))
        for m in ('vit', 'resnet18') for pct in (10, 25, 50, 100)]
common.summarise(args, common.run(args, grid))
