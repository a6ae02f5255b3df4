"""Patch size 2, 4, 8: 256, 64 and 16 tokens at the same width; cost grows with the token count."""
import common

args = common.parse('patch_size')
grid = [(f"patch{p}", dict(patch_size=p)) for p in (2, 4, 8)]
common.summarise(args, common.run(args, grid))
