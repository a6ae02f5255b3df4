"""GELU MLP vs SwiGLU; train.py scales SwiGLU's hidden width by 2/3 so the parameters match."""
import common

args = common.parse('ffn')
grid = [(k, dict(ffn=k)) for k in ('gelu', 'swiglu')]
common.summarise(args, common.run(args, grid))
