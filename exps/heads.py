"""Number of heads 1, 3, 8, 96 at a fixed attention width of 192 (head_dim = 192 / heads)."""
import common

args = common.parse('heads')
grid = [(f"heads{h}", dict(heads=h, head_dim=192 // h)) for h in (1, 3, 8, 96)]
common.summarise(args, common.run(args, grid))
