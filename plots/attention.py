"""Where the best ViT looks: CLS-to-patch attention maps per layer (rows) and head (columns) for one
test image, and the mean attention distance of every head against depth (ViT paper, fig. 7).

    python plots/attention.py --runs=runs --out=report/figures [--ckpt=runs/x/y/ckpt_best.pt[,runs/x/z/ckpt_best.pt]]
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


def distances(maps, cfg):
    """((layers, heads) mean attention distances from one model's attention maps, the distance under uniform
    attention on its grid)."""
    T = cfg.n_prefix + cfg.grid ** 2  # the same distance under attention spread evenly over every patch: no locality
    return np.stack([mean_distance(p, cfg).numpy() for p in maps]), mean_distance(torch.ones(1, 1, T, T), cfg).item()


def main(runs_dir, out_dir, ckpt=None, n=64, max_heads=8, found=None):
    """Writes the figures: the maps of the first checkpoint, the distances of every one (ckpt: one path, or
    several joined by commas to compare models on one axis). found (a dict), if given, receives 'finding':
    'vit_s0: mean attention distance 5.1 px in layer 1, 11.3 px in layer 6 (mean over heads; ...)'."""
    ckpts = ckpt.split(',') if ckpt else [analysis.best_checkpoint(analysis.load_runs(runs_dir), vit=True)]
    if ckpts[0] is None:
        print('attention: no finished ViT run with a checkpoint')
        return []
    model, config = models.load_model(ckpts[0])
    x, _, raw, _ = analysis.test_images(config, n)
    maps = attention_maps(model, x)
    cfg, L, H = model.cfg, len(maps), min(maps[0].shape[1], max_heads)
    runs = [r for c in ckpts for r in analysis.run_of(c)]
    fig = style.figure(analysis.run_of(ckpts[0]))
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
    findings, uniforms = [], {}
    for i, c in enumerate(ckpts):
        if i:  # the first model's maps are already computed, for the maps figure
            model, config = models.load_model(c)
            maps = attention_maps(model, analysis.test_images(config, n)[0])
        d, uniform = distances(maps, model.cfg)
        m, L, colour = d.mean(1), len(d), style.PALETTE[i]
        findings.append(f"{config['name']}: mean attention distance {m[0]:.1f} px in its one layer (mean over heads)"
                        if L == 1 else f"{config['name']}: mean attention distance {m[0]:.1f} px in layer 1, {m[-1]:.1f} px "
                        f"in layer {L} (mean over heads; max {m.max():.1f} px in layer {m.argmax() + 1})")
        print(f"{config['name']}: mean attention distance per layer {', '.join(f'{v:.1f}' for v in m)} px, "
              f"closest head {d.min():.1f} px, uniform {uniform:.1f} px")  # the figure's numbers, to quote
        uniforms.setdefault(round(uniform, 1), []).append((config['name'], colour))
        for l in range(L):
            ax.scatter(np.full(d.shape[1], l + 1), d[l], s=60, color=colour, alpha=0.5)
        label = 'mean over heads' if len(ckpts) == 1 else f"{config['name']} ({model.cfg.patch_embed} patch embedding)"
        ax.plot(np.arange(1, L + 1), m, color=colour if len(ckpts) > 1 else 'black', label=label)
    for u, models_at in uniforms.items():  # one grey line, or with several grids one per grid in its models' colour
        several = len(uniforms) > 1
        ax.axhline(u, color=models_at[0][1] if several else '0.4', ls='--',
                   label='uniform attention' + (f" ({', '.join(name for name, _ in models_at)})" if several else ''))
    if found is not None:
        found['finding'] = '; '.join(findings) + '; uniform attention: ' + ', '.join(f"{u:.1f} px" for u in uniforms)
    ax.set_xlabel('layer (block)')
    ax.set_ylabel('mean attention distance (pixels)')
    ax.set_ylim(bottom=0)
    fig.suptitle(f"How far each head looks, {' vs '.join(r['name'] for r in runs) or config['name']}")
    ax.legend(loc='lower right')
    return paths + style.save(fig, out_dir, 'attention_distance')


if __name__ == '__main__':
    args = style.parse_args(__doc__, ckpt=(None, 'a checkpoint, or several joined by commas (their distances on one '
                                                 'axis); default: the best ViT under --runs, on validation'))
    print('\n'.join(main(args.runs, args.out, args.ckpt)))
