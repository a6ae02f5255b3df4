"""Several CLS tokens (1, 2, 4), outputs concatenated for the head."""
import common

args = common.parse('multi_cls')
grid = [(f"cls{n}", dict(n_cls=n)) for n in (1, 2, 4)]
common.summarise(args, common.run(args, grid))
