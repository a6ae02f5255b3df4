"""Why ViTs lag CNNs on small data, seen in feature space: 2-D PCA of the pooled features of the best
ViT and the best ResNet (highest validation accuracy under --runs), coloured by class, side by side; and
the first three principal components of the ViT's patch tokens shown as RGB images. Each model's
class separation (between-class share of the feature variance) is in its panel's title.

    python plots/pca.py --runs=runs --out=report/figures [--n=1000]
"""
import numpy as np
import matplotlib.pyplot as plt
import torch

import style  # first: it puts the repo root (analysis.py, models.py) on the path
import analysis
import models


def pca(X, k):
    """Projection of X (n, d) on its top-k principal components, sorted by explained variance,
    and the explained-variance ratio of each of those components (numpy SVD of the centred data)."""
    X = np.asarray(X, dtype=np.float64)
    X = X - X.mean(0)
    _, s, vt = np.linalg.svd(X, full_matrices=False)  # s is sorted descending
    ratio = s ** 2 / max((s ** 2).sum(), 1e-12)
    return X @ vt[:k].T, ratio[:k]


def class_separation(X, y):
    """Between-class share of the total variance of features X (n, d) with labels y: 1 when every class
    sits on its own point, ~0 when the classes overlap completely (a Fisher-style ratio, no fitting)."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    mu = X.mean(0)
    between = sum((y == c).sum() * ((X[y == c].mean(0) - mu) ** 2).sum() for c in np.unique(y))
    return between / max(((X - mu) ** 2).sum(), 1e-12)


@torch.no_grad()
def pooled_features(model, x):
    model.eval()
    feats = [model.pool(model.features(c)) if hasattr(model, 'pool') else model.features(c)
             for c in x.split(200)]  # in chunks: ResNet-50 activations of 1000 images would need GBs
    return torch.cat(feats).float().numpy()


def main(runs_dir, out_dir, n=1000, n_show=6, found=None):
    """Writes the figures; found (a dict), if given, receives 'finding': 'class separation of pooled test features:
    ResNet 0.42 vs ViT 0.18 (between-class share of variance)'."""
    runs = analysis.load_runs(runs_dir)
    ckpts = {'ViT': analysis.best_checkpoint(runs, vit=True), 'ResNet': analysis.best_checkpoint(runs, vit=False)}
    ckpts = {k: v for k, v in ckpts.items() if v}
    if not ckpts:
        print('pca: no finished run with a checkpoint')
        return []
    fig = style.figure([r for p in ckpts.values() for r in analysis.run_of(p)])
    axes = fig.subplots(1, len(ckpts), squeeze=False)
    paths, separation = [], {}
    for ax, (kind, path) in zip(axes[0], ckpts.items()):
        model, config = models.load_model(path)
        x, y, raw, classes = analysis.test_images(config, n)
        feats = pooled_features(model, x)
        proj, ratio = pca(feats, 2)
        sep = separation[kind] = class_separation(feats, y.numpy())
        for c in range(len(classes)):
            m = (y == c).numpy()
            ax.scatter(proj[m, 0], proj[m, 1], s=10, alpha=0.7, color=plt.get_cmap('tab10')(c % 10), label=classes[c])
        ax.set_title(f"{kind} ({config['name']}): class separation {sep:.2f}", fontsize=16)
        ax.set_xlabel(f"PC1 ({100 * ratio[0]:.0f}% of variance)")
        ax.set_ylabel(f"PC2 ({100 * ratio[1]:.0f}% of variance)")
        if kind == 'ViT':
            paths += patch_token_figure(model, x[:n_show], raw[:n_show], config, out_dir, analysis.run_of(path))
    axes[0, -1].legend(loc='center left', bbox_to_anchor=(1, 0.5), markerscale=3)
    fig.suptitle(f"Pooled features of {len(y)} test images, 2-D PCA")
    if found is not None:
        found['finding'] = ('class separation of pooled test features: ' + ' vs '.join(
            f"{k} {v:.2f}" for k, v in sorted(separation.items(), key=lambda kv: -kv[1])) + ' (between-class share of variance)')
    return style.save(fig, out_dir, 'pca_features') + paths


@torch.no_grad()
def patch_token_figure(model, x, raw, config, out_dir, runs=None):
    """One PCA fitted on the patch tokens of all shown images; components 1-3 -> R, G, B."""
    h = model.features(x)[:, model.cfg.n_prefix:].float()
    B, N, D = h.shape
    g = model.cfg.grid
    proj, ratio = pca(h.reshape(B * N, D).numpy(), 3)
    proj = (proj - proj.min(0)) / np.maximum(proj.max(0) - proj.min(0), 1e-12)  # each component to [0, 1]
    rgb = proj.reshape(B, g, g, -1)
    if rgb.shape[-1] < 3:
        rgb = np.concatenate([rgb, np.zeros((B, g, g, 3 - rgb.shape[-1]))], -1)
    fig = style.figure(runs)
    axes = fig.subplots(2, B, squeeze=False)
    for i in range(B):
        axes[0, i].imshow(raw[i].permute(1, 2, 0).numpy().squeeze())
        axes[1, i].imshow(rgb[i], interpolation='nearest')
        for ax in axes[:, i]:
            ax.axis('off')
    fig.suptitle(f"ViT patch tokens ({config['name']}): PCs 1-3 as RGB, "
                 f"{100 * ratio.sum():.0f}% of variance")
    return style.save(fig, out_dir, 'pca_patch_tokens')


if __name__ == '__main__':
    args = style.parse_args(__doc__, n=(1000, 'test images to project'))
    print('\n'.join(main(args.runs, args.out, args.n)))
