"""Patch embedding: linear (non-overlapping), overlap (kernel > stride), conv (small CNN stem)."""
import common

args = common.parse('patch_embed')
grid = [(k, dict(patch_embed=k)) for k in ('linear', 'overlap', 'conv')]
common.summarise(args, common.run(args, grid))
