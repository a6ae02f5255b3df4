"""From no augmentation policy to the full recipe, one technique added at a time, then the full
recipe with one technique removed at a time. Crop + flip are always on (data.Loader)."""
import common

FULL = common.FULL_AUGMENT
OFF = dict(augment='none', color_jitter=0.0, erasing=0.0, mixup=0.0, cutmix=0.0, repeat_aug=1, ema=0.0)

args = common.parse('augment')
grid = [('none', {})] + [(f"+{k}", dict(FULL[:i + 1])) for i, (k, _) in enumerate(FULL)]  # +k: all up to k
grid += [(f"full-{k}", {**dict(FULL), k: OFF[k]}) for k, _ in FULL]
common.summarise(args, common.run(args, grid))
