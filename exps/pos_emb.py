"""Position embedding: none, learned, sincos1d/2d, rope1d/2d, each with and without a position
for the CLS token (cls_pos)."""
import common

args = common.parse('pos_emb')
grid = [(f"{p}{'' if c else '_nocls'}", dict(pos_emb=p, cls_pos=c))
        for p in ('none', 'learned', 'sincos1d', 'sincos2d', 'rope1d', 'rope2d') for c in (True, False)
        if not (p == 'none' and not c)]  # no embedding: cls_pos changes nothing, one run is enough
common.summarise(args, common.run(args, grid))
