"""The best combination, against the baseline. The combination below is a starting point picked from
the literature; edit it after reading the ablation tables (python plots/report.py)."""
import common

BEST = dict(patch_embed='overlap', norm='rmsnorm', qk_norm=True, ffn='swiglu', pos_emb='rope2d', n_reg=4,
            layerscale=1e-4, augment='trivialaugment', erasing=0.25, mixup=0.8, cutmix=1.0, ema=0.999)

args = common.parse('best')
grid = [('baseline', {}), ('best', BEST)]
common.summarise(args, common.run(args, grid))
