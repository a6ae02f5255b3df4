"""The long tier: the screen's questions again at a length where the validation curve has flattened, every
run at the same number of optimizer steps (epochs x steps per epoch, no time budget). Groups, in the order
they run (--only picks variants; --list shows every command):

  converge   the recipe at the tier's length and at half of it (does twice as long still gain?), and every
             question of the screen group below at half length (the comparisons a CPU can finish first)
  screen     the 2-minute screen's headline findings: patch 8, linear patches, positions none / sincos2d /
             rope2d, TrivialAugment and the full augmentation recipe, LayerScale 0.1, the best combination at
             the recipe's learning rate and at the lower one it was screened with (and the recipe alone at that rate)
  resnet     ResNet-18 with its own recipe (SGD-Nesterov 0.1, weight decay 5e-4) and with the ViT's (AdamW)
  staircase  an experiment log's staircase (seed 002): the standard ViT (linear patches, learned positions,
             dim 192 x depth 6, 3 heads, MLP x4), + augmentation/regularisation, + a ResNet-18 stem,
             + LayerScale, + soft distillation from the converged ResNet-18 (resnet18_s0, trained first)
  scaling    10/25/50% of the training split, the recipe's ViT and ResNet-18, at equal epochs; the full
             augmentation recipe, TrivialAugment alone and linear patches on 10%, where the ViT overfits, and
             the recipe and TrivialAugment on 10% at twice the epochs (`_x2`)

    python exps/long.py configs/cpu10.py --epochs=50 --time_limit=0 --seeds=0,1 --dataset=imagefolder --data_dir=DIR
    python exps/long.py configs/cpu10.py --epochs=50 --time_limit=0 --seeds=0,1 --parallel=6 ...   # one GPU
"""
import os

import common

BEST = dict(qk_norm=True, ffn='swiglu', pos_emb='sincos1d', n_cls=2)  # picked on validation at 2 minutes (results/cpu_2min/best)
RESNET_SGD = dict(model='resnet18', optimizer='sgd', lr=0.1, weight_decay=5e-4)
STANDARD = dict(dim=192, depth=6, heads=3, head_dim=0, mlp_ratio=4.0, patch_embed='linear', pos_emb='learned')
REGULARISE = dict(mixup=0.8, cutmix=1.0, color_jitter=0.4, erasing=0.25, drop_path=0.1, label_smoothing=0.1)

args = common.parse('long')
epochs = args.epochs or 50
n = common.train_size(args) if not args.list else 45000  # --list reads no data: its subsets are sized for CIFAR-10
half = max(1, epochs // 2)
# the screen's headline questions, each asked at the tier's length and at half of it (the half a CPU finishes first)
QUESTIONS = [('patch8', dict(patch_size=8)), ('linear', dict(patch_embed='linear')), ('pos_none', dict(pos_emb='none')),
             ('pos_sincos2d', dict(pos_emb='sincos2d')), ('pos_rope2d', dict(pos_emb='rope2d')),
             ('aug_trivial', dict(augment='trivialaugment')), ('aug_full', dict(common.FULL_AUGMENT)), ('best', BEST),
             ('layerscale', dict(layerscale=0.1))]  # the screen's LayerScale pair (ls0.1 vs ls0) on the recipe itself
grid = [('cpu10', {}), ('cpu10_half', dict(epochs=half))] + [(f'{v}_half', dict(o, epochs=half)) for v, o in QUESTIONS]
grid += QUESTIONS + [('best_lr1e-3', dict(BEST, lr=1e-3)), ('cpu10_lr1e-3', dict(lr=1e-3))]
grid += [('resnet18', RESNET_SGD), ('resnet18_adamw', dict(model='resnet18'))]
grid += [('std', STANDARD), ('std+reg', dict(STANDARD, **REGULARISE)),
         ('std+reg+stem', dict(STANDARD, **REGULARISE, patch_embed='resnet18')),
         ('std+reg+stem+ls', dict(STANDARD, **REGULARISE, patch_embed='resnet18', layerscale=0.1))]
grid += [(f"{m}_{pct}pct", dict(flags, subset=n * pct // 100)) for m, flags in (('cpu10', {}), ('resnet18', RESNET_SGD))
         for pct in (10, 25, 50)]
# on 10% the ViT fits its training images far better than it generalises: does strong augmentation pay there,
# or the milder TrivialAugment alone? and does the conv stem's prior pay more with fewer images?
tenth = n * 10 // 100
grid += [('aug_full_10pct', dict(common.FULL_AUGMENT, subset=tenth)),
         ('aug_trivial_10pct', dict(augment='trivialaugment', subset=tenth)),
         ('linear_10pct', dict(patch_embed='linear', subset=tenth))]
# at 50 epochs on 10% the recipe memorises and TrivialAugment is still gaining: does it pull ahead at twice the length?
grid += [('cpu10_10pct_x2', dict(epochs=2 * epochs, subset=tenth)),
         ('aug_trivial_10pct_x2', dict(augment='trivialaugment', epochs=2 * epochs, subset=tenth))]
teacher = os.path.join(args.out_dir, 'long', 'resnet18_s0', 'ckpt_best.pt')
students = [('std+reg+stem+ls+distill', dict(STANDARD, **REGULARISE, patch_embed='resnet18', layerscale=0.1,
                                              teacher=teacher, distill='soft', distill_alpha=0.5, distill_tau=3.0))]
results = [common.run(args, grid)]
only = set(args.only.split(',')) if args.only else {v for v, _ in students}
if only & {v for v, _ in students}:
    if os.path.exists(teacher) or args.list:
        args.only = ','.join(v for v, _ in students if v in only)
        results.append(common.run(args, students))
    else:
        print(f"distillation students wait for their teacher: {teacher} does not exist yet (train variant resnet18, seed 0)")
common.summarise(args, *results)
