"""Why the old default recipe learned slowly: the baseline ViT with the old defaults,
then one switch at a time to what a plain loop around vit-pytorch's ViT does, all of them at once, the
plain loop less each of the three that mattered, and the new defaults (the three, nothing else).
Every variant spells its flags out, so the study means the same after the defaults changed.

    python exps/recipe.py --seeds=2 --max_steps=300 --dataset=imagefolder --data_dir=/tmp/data/cifar10
"""
import common

OLD = dict(init='trunc_normal', pos_std=0.02, patch_norm=False, grad_clip=1.0, warmup_epochs=5, bias=True,
           pos_emb='learned')
PLAIN = dict(init='torch', pos_std=1.0, patch_norm=True, grad_clip=0.0, warmup_epochs=3, bias=False)
args = common.parse('recipe')
grid = [('old_default', OLD)] + [(f"{k}={v}", {**OLD, k: v}) for k, v in PLAIN.items()] + [
    ('pos_emb=sincos2d', {**OLD, 'pos_emb': 'sincos2d'}), ('plain_loop', {**OLD, **PLAIN})] + [
    (f"plain_loop-{k}", {**OLD, **PLAIN, k: OLD[k]}) for k in ('init', 'pos_std', 'patch_norm')] + [
    ('new_default', {**OLD, 'init': 'torch', 'pos_std': 1.0, 'patch_norm': True})]
common.summarise(args, common.run(args, grid))
