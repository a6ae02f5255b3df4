"""LayerNorm vs RMSNorm, each with and without QK-norm; then the same four at 10x the learning
rate, where the count of diverged runs measures stability."""
import common

args = common.parse('norm')
grid = [(f"{n}{'_qknorm' if q else ''}", dict(norm=n, qk_norm=q)) for n in ('layernorm', 'rmsnorm') for q in (False, True)]
high_lr = float(args.extra.pop('high_lr', 1e-2))  # --high_lr=... sets the stability run's lr
normal = common.run(args, grid)
unstable = common.run(args, [(f"{v}_highlr", dict(f, lr=high_lr)) for v, f in grid])
for v, _ in grid:
    runs = [s for n, s in unstable.items() if n.startswith(f"{v}_highlr_s")]
    if not args.list:
        print(f"lr={high_lr:g} {v}: {runs.count('diverged')} of {len(runs)} runs diverged")
common.summarise(args, normal, unstable)
