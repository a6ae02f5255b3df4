"""The words of the talk (python plots/slides.py): the question, the claims with their hypotheses, the
conclusions and the future experiments. Only words live here; every number on a slide is read from the
logs under results/ when the deck is built.

A claim says "A > B" (or, with same=True, "A and B do not differ"). Its refs are where the numbers are read,
as (study folder under results/, variant A, variant B), in order of preference: the long tier first (its
folder, cpu_long/long, exists once those runs are copied in), then the short runs. The first ref whose
two variants have finished runs on a shared seed is used: the paired test-accuracy differences A - B over
those seeds. A claim is flagged when the build finds the sign flipped, the difference within the seed spread
(some seed disagrees, or the mean is under the std of the differences), only one seed, or, for same=True,
a clear difference. A claim whose refs have no finished runs yet is pending (a prediction for the long tier).
Hypotheses are ours, not measured: the slides label them so.
"""
LONG = 'cpu_long/long'   # exps/long.py: every run at the same number of steps (50 epochs)
SCREEN = 'cpu_2min'      # the 2-minute screen, 2-3 seeds

QUESTION = 'Why do ViTs lag CNNs on 45,000 images, and what closes the gap?'

CLAIMS = dict(
    # what helped
    stem=dict(says='Conv stem > linear patches', refs=[(LONG, 'cpu10', 'linear'), (LONG, 'cpu10_half', 'linear_half'), (f'{SCREEN}/patch_embed', 'conv', 'linear')],
              hypothesis='convolution is local'),
    stem_10pct=dict(says='On 10%: stem > linear patches', refs=[(LONG, 'cpu10_10pct', 'linear_10pct')],
                    hypothesis='learns faster per step'),
    positions=dict(says='Learned positions > none', refs=[(LONG, 'cpu10', 'pos_none'), (LONG, 'cpu10_half', 'pos_none_half'),
                                                               (f'{SCREEN}/pos_emb', 'learned', 'none')],
                   hypothesis='attention is order-blind'),
    distill=dict(says='Soft distillation > none', refs=[(LONG, 'std+reg+stem+ls+distill', 'std+reg+stem+ls'),
                                                          ('cpu_300steps/distill', 'soft', 'vit')],
                 hypothesis="the CNN's bias transfers"),
    # what did not
    augment=dict(says='No augmentation > TrivialAugment', refs=[(LONG, 'cpu10', 'aug_trivial'), (LONG, 'cpu10_half', 'aug_trivial_half'),
                                                                 (f'{SCREEN}/augment', 'none', '+augment')],
                 hypothesis='short runs underfit; augmentation pays once models overfit'),
    augment_long=dict(says='None > full augmentation', refs=[(LONG, 'cpu10_half', 'aug_full_half')],
                      hypothesis='the small ViT underfits augmented data'),
    augment_10pct=dict(says='On 10% too: none > full augmentation', refs=[(LONG, 'cpu10_10pct', 'aug_full_10pct')],
                       hypothesis='too few steps to fit mixed images'),
    trivial_10pct=dict(says='On 10%: TrivialAugment = none', same=True, refs=[(LONG, 'aug_trivial_10pct', 'cpu10_10pct')],
                       hypothesis='it stops memorising; gains need steps'),
    registers=dict(says='No registers > 4 registers', refs=[(f'{SCREEN}/registers', 'reg0', 'reg4')],
                   hypothesis='extra tokens cost steps'),
    swiglu=dict(says='SwiGLU = GELU', same=True, refs=[(f'{SCREEN}/ffn', 'swiglu', 'gelu')],
                hypothesis='too early for FFN details to matter'),
    # architecture at a short budget, and the prediction for the long tier
    patch8=dict(says='Patch 8 > patch 4', refs=[(f'{SCREEN}/patch_size', 'patch8', 'patch4')],
                hypothesis='fewer tokens buy steps; equal steps favour patch 4'),
    patch4_long=dict(says='Equal steps: patch 4 > patch 8', refs=[(LONG, 'cpu10', 'patch8'), (LONG, 'cpu10_half', 'patch8_half')],
                     hypothesis='once steps are equal, more tokens see finer detail'),
    # ResNet vs ViT
    vit_short=dict(says='ViT > ResNet-18 in 2 CPU-minutes', refs=[(f'{SCREEN}/resnet', 'vit', 'resnet18')],
                   hypothesis='the ViT takes 4x the steps'),
    resnet_equal=dict(says='ResNet-18 > ViT at equal epochs', refs=[(LONG, 'resnet18', 'cpu10'), ('gpu_h200/equal_epochs', 'resnet18', 'baseline')],
                      hypothesis='weight sharing learns edges from fewer images'),
    scaling_short=dict(says='ViT > ResNet-18 on 10%', refs=[(f'{SCREEN}/data_scaling', 'vit_10pct', 'resnet18_10pct')],
                       hypothesis='the ViT takes 4x the steps'),
    scaling=dict(says='Equal epochs: ResNet-18 > ViT on 10%', refs=[(LONG, 'resnet18_10pct', 'cpu10_10pct')],
                 hypothesis='less data favours the stronger prior'),
    best=dict(says='Best combination > baseline', refs=[(LONG, 'best', 'cpu10'), (LONG, 'best_half', 'cpu10_half'),
                                                          ('gpu_h200/equal_epochs', 'best', 'baseline'),
                                                          (f'{SCREEN}/best', 'best', 'baseline')],
              hypothesis='small gains add up'),
    longer=dict(says='50 epochs > 25 epochs', refs=[(LONG, 'cpu10', 'cpu10_half')], hypothesis='not converged at 25'),
    stair_reg=dict(says='+ regularisation > standard ViT', refs=[(LONG, 'std+reg', 'std')],
                   hypothesis='at 50 epochs the ViT overfits, so regularisation pays'),
    stair_stem=dict(says='+ ResNet stem > without', refs=[(LONG, 'std+reg+stem', 'std+reg')], hypothesis='locality again'),
)

# slide -> the claims it shows, in order
HELPED = ['stem', 'stem_10pct', 'positions', 'distill']
NOT_HELPED = ['augment_long', 'augment_10pct', 'trivial_10pct']  # registers: in the effect chart (2-minute screen only)

# the effect chart: every technique as (words, refs of "technique vs its baseline"), long tier first
TECHNIQUES = [  # refs: the long tier at 50 epochs, then at 25, then the short runs (the first with runs is drawn)
    ('linear patches (no stem)', [(LONG, 'linear', 'cpu10'), (LONG, 'linear_half', 'cpu10_half'),
                                  (f'{SCREEN}/patch_embed', 'linear', 'conv')]),
    ('patch 8 (not 4)', [(LONG, 'patch8', 'cpu10'), (LONG, 'patch8_half', 'cpu10_half'), (f'{SCREEN}/patch_size', 'patch8', 'patch4')]),
    ('no positions', [(LONG, 'pos_none', 'cpu10'), (LONG, 'pos_none_half', 'cpu10_half'), (f'{SCREEN}/pos_emb', 'none', 'learned')]),
    ('sin-cos 2-D positions', [(LONG, 'pos_sincos2d', 'cpu10'), (LONG, 'pos_sincos2d_half', 'cpu10_half'),
                               (f'{SCREEN}/pos_emb', 'sincos2d', 'learned')]),
    ('RoPE 2-D', [(LONG, 'pos_rope2d', 'cpu10'), (LONG, 'pos_rope2d_half', 'cpu10_half'), (f'{SCREEN}/pos_emb', 'rope2d', 'learned')]),
    ('TrivialAugment', [(LONG, 'aug_trivial', 'cpu10'), (LONG, 'aug_trivial_half', 'cpu10_half'),
                        (f'{SCREEN}/augment', '+augment', 'none')]),
    ('full augmentation', [(LONG, 'aug_full', 'cpu10'), (LONG, 'aug_full_half', 'cpu10_half'), (f'{SCREEN}/augment', '+ema', 'none')]),
    ('best combination', [(LONG, 'best', 'cpu10'), (LONG, 'best_half', 'cpu10_half'), (f'{SCREEN}/best', 'best', 'baseline')]),
    ('SwiGLU', [(f'{SCREEN}/ffn', 'swiglu', 'gelu')]),
    ('QK-norm', [(f'{SCREEN}/norm', 'layernorm_qknorm', 'layernorm')]),
    ('RMSNorm', [(f'{SCREEN}/norm', 'rmsnorm', 'layernorm')]),
    ('2 CLS tokens', [(f'{SCREEN}/multi_cls', 'cls2', 'cls1')]),
    ('4 registers', [(f'{SCREEN}/registers', 'reg4', 'reg0')]),
    ('LayerScale', [(LONG, 'layerscale', 'cpu10'), (LONG, 'layerscale_half', 'cpu10_half'),
                    (LONG, 'std+reg+stem+ls', 'std+reg+stem'), (f'{SCREEN}/layerscale', 'ls0.1', 'ls0')]),
    ('Lion optimizer', [(f'{SCREEN}/optimizer', 'lion', 'adamw')]),
    ('soft distillation', [(LONG, 'std+reg+stem+ls+distill', 'std+reg+stem+ls'), ('cpu_300steps/distill', 'soft', 'vit')]),
]

# the two figure slides after the accuracy and scaling ones: (title, footer note, our hypothesis)
WHY_FIGURES = [('Why, 3: what the features separate', 'PCA of pooled test features',
                'both split animals from vehicles; the ResNet separates finer classes'),
               ('Why, 4: how far attention looks', 'mean attention distance per head',
                'too few images for heads to turn local, stem or not')]

# the staircase (exps/long.py): each step adds one thing to the one before
STAIRCASE = [('standard ViT', 'std'), ('+ regularisation', 'std+reg'), ('+ ResNet stem', 'std+reg+stem'),
             ('+ LayerScale', 'std+reg+stem+ls'), ('+ distillation', 'std+reg+stem+ls+distill')]
STAIRCASE_CLAIMS = ['stair_reg', 'stair_stem']

# conclusions: (words, the claims behind them); the slide marks each with its claims' state
CONCLUSIONS = [
    ('Inductive bias pays most: conv stem, positions', ['stem', 'stem_10pct', 'positions']),
    ('A short budget ranks models by speed', ['patch8', 'patch4_long', 'vit_short']),
    ('At equal epochs ResNet-18 still leads', ['resnet_equal', 'scaling']),
    ('Most modern tricks sit inside the seed spread', ['swiglu']),
]

FUTURE = [
    'With more images, do heads turn local?',
    'Strong augmentation once the ViT overfits',
    'Distillation from a converged ResNet-18',
    'ResNet-18 vs ViT on all 45,000 images at length',
    'Data scaling beyond 45,000 images',
]
