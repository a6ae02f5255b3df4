"""Register tokens 0, 1, 4, 8: extra learnable tokens dropped before the head."""
import common

args = common.parse('registers')
grid = [(f"reg{n}", dict(n_reg=n)) for n in (0, 1, 4, 8)]
common.summarise(args, common.run(args, grid))
