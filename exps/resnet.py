"""CIFAR ResNet-18/34/50 and the baseline ViT at the same budget."""
import common

args = common.parse('resnet')
grid = [('vit', {})] + [(m, dict(model=m)) for m in ('resnet18', 'resnet34', 'resnet50')]
common.summarise(args, common.run(args, grid))
