"""Baseline ViT (the defaults of docs/design.md: patch 4, dim 192, depth 6, heads 3): one long run with curves."""
import common

args = common.parse('baseline')
grid = [('vit', {})]
common.summarise(args, common.run(args, grid))
