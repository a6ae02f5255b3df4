"""Where the best ViT looks: CLS-to-patch attention maps per layer (rows) and head (columns) for one
test image, and the mean attention distance of every head against depth (ViT paper, fig. 7).

    python plots/attention.py --runs=runs --out=report/figures [--ckpt=runs/x/y/ckpt_best.pt]
"""
import numpy as np
import torch

import style  # first: it puts the repo root (analysis.py, models.py) on the path
import analysis
import models
import vit


@torch.no_grad()
def attention_maps(model, x):
    """[per layer: (B, heads, T, T) attention probabilities]. A hook reruns each attention on its explicit path
    (vit.Attention.explicit, the one that has the probabilities) and passes that output on, so that each layer's
    map and the layers after it come from one computation."""
    maps = []

    def keep(attn, args, out):
        out, (*_, probs, _) = attn.explicit(*args)
        maps.append(probs.float())
        return out
    hooks = [m.register_forward_hook(keep) for m in model.modules() if isinstance(m, vit.Attention)]
    model.eval()
    try:
        model.features(x)  # every token's row: forward() computes only the class rows in the last block
    finally:
        for h in hooks:
            h.remove()
    return maps


def mean_distance(probs, cfg):
    """(heads,) mean distance in pixels between a patch query and the patches it attends to,
    weighted by attention renormalised over the patch keys, averaged over queries and images."""
    g, p = cfg.grid, cfg.patch_size
    rc = torch.stack(torch.meshgrid(torch.arange(g), torch.arange(g), indexing='ij'), -1).reshape(-1, 2).float()
    dist = torch.cdist(rc, rc) * p
    a = probs[:, :, cfg.n_prefix:, cfg.n_prefix:]
    a = a / a.sum(-1, keepdim=True).clamp_min(1e-12)
    return (a * dist).sum(-1).mean(dim=(0, 2))


def main(runs_dir, out_dir, ckpt=None, n=64, max_heads=8, found=None):
    """Writes the figures; found (a dict), if given, receives 'finding': 'vit_s0: mean attention distance 5.1 px in
    layer 1, 11.3 px in layer 6 (mean over heads; ...)'."""
    ckpt = ckpt or analysis.best_checkpoint(analysis.load_runs(runs_dir), vit=True)
    if ckpt is None:
        print('attention: no finished ViT run with a checkpoint')
        return []
    model, config = models.load_model(ckpt)
    x, _, raw, _ = analysis.test_images(config, n)
    maps = attention_maps(model, x)
    cfg, L, H = model.cfg, len(maps), min(maps[0].shape[1], max_heads)
    runs = analysis.run_of(ckpt)
    fig = style.figure(runs)
    axes = fig.subplots(L, H + 1, squeeze=False)
    for l, probs in enumerate(maps):
        axes[l, 0].imshow(raw[0].permute(1, 2, 0).numpy().squeeze())
        axes[l, 0].set_ylabel(f"layer {l + 1}")
        for h in range(H):
            cls_map = probs[0, h, 0, cfg.n_prefix:].reshape(cfg.grid, cfg.grid)  # query 0 is the first CLS
            axes[l, h + 1].imshow(cls_map.numpy(), cmap='viridis')
            if l == 0:
                axes[l, h + 1].set_title(f"head {h + 1}")
        for ax in axes[l]:
            ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(f"CLS-to-patch attention of {config['name']}" + (f" (first {H} heads)" if H < maps[0].shape[1] else ''))
    paths = style.save(fig, out_dir, 'attention_maps')

    fig = style.figure(runs)
    ax = fig.subplots()
    d = np.stack([mean_distance(p, cfg).numpy() for p in maps])  # (layers, heads)
    m = d.mean(1)
    T = cfg.n_prefix + cfg.grid ** 2  # the same distance under attention spread evenly over every patch: no locality
    uniform = mean_distance(torch.ones(1, 1, T, T), cfg).item()
    if found is not None:
        found['finding'] = (f"{config['name']}: mean attention distance {m[0]:.1f} px in its one layer (mean over heads)"
                            if L == 1 else f"{config['name']}: mean attention distance {m[0]:.1f} px in layer 1, {m[-1]:.1f} px "
                            f"in layer {L} (mean over heads; max {m.max():.1f} px in layer {m.argmax() + 1})")
        found['finding'] += f"; uniform attention: {uniform:.1f} px"
    for l in range(L):
        ax.scatter(np.full(d.shape[1], l + 1), d[l], s=60, color='tab:blue', alpha=0.7)
    ax.plot(np.arange(1, L + 1), m, color='black', label='mean over heads')
    ax.axhline(uniform, color='0.4', ls='--', label='uniform attention')
    ax.set_xlabel('layer (block)')
    ax.set_ylabel('mean attention distance (pixels)')
    ax.set_ylim(bottom=0)
    fig.suptitle(f"How far each head looks, {config['name']}")
    ax.legend()
    return paths + style.save(fig, out_dir, 'attention_distance')


if __name__ == '__main__':
    args = style.parse_args(__doc__, ckpt=(None, 'a checkpoint (default: the best ViT under --runs, on validation)'))
    print('\n'.join(main(args.runs, args.out, args.ckpt)))
