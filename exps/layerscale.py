"""LayerScale: a learnable per-channel gain on each residual branch, at several init values (0 = off)."""
import common

args = common.parse('layerscale')
grid = [(f"ls{v:g}", dict(layerscale=v)) for v in (0.0, 1e-4, 1e-2, 0.1)]
common.summarise(args, common.run(args, grid))
