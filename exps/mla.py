"""Multi-head latent attention: keys/values from a kv_rank latent (queries full-rank, then also
low-rank), against standard attention (mha)."""
import common

args = common.parse('mla')
grid = [('mha', {})] + [(f"mla_kv{r}", dict(attn='mla', kv_rank=r)) for r in (16, 32, 64, 128)]
grid += [('mla_q64_kv64', dict(attn='mla', q_rank=64, kv_rank=64))]
common.summarise(args, common.run(args, grid))
