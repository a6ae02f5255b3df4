"""Width x depth: dim 96/192/256 x depth 4/6/12. Head width stays 64 (baseline 192/3), so heads
need not divide dim; heads = 2, 3, 4 at dim 96, 192, 256."""
import common

args = common.parse('model_size')
grid = [(f"dim{d}_depth{L}", dict(dim=d, depth=L, heads=max(1, round(d / 64)), head_dim=64))
        for d in (96, 192, 256) for L in (4, 6, 12)]
common.summarise(args, common.run(args, grid))
