"""Train a ViT or a CIFAR ResNet; one JSON log and two checkpoints per run in out_dir/name/.

    python train.py                                   # baseline ViT on CIFAR-10
    python train.py --model=resnet18 --time_limit=10  # 10-minute budget; the LR schedule fits inside it
    python train.py my_config.py --depth=12           # config files are plain assignments
    python train.py --help                            # every flag with its default
    torchrun --nproc_per_node=4 train.py              # DistributedDataParallel over 4 GPUs; batch_size is the global batch

The flag table FLAGS below is the config (its rows become globals). Read top to bottom: config, setup, loop, test.
"""
import gc
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

import configurator
import data
import lifecycle
import models
import techniques
import vit

# ----------------------------------------------------------------------------- config
# Every flag, one row: name, default, allowed values, meaning; a string starts a section. Allowed values: a choice
# tuple, 'bool', a range ('>= 1', 'in [0, 1)', typed alternatives joined by 'or'; configurator.parse_range) checked
# before anything loads, or what a free-text flag holds (checked where it is used). The rows become the globals,
# --help and docs/flags.md (python train.py --help=markdown). A new flag: its row, and the code that uses it.
VIT = {row[0]: row for row in vit.FLAGS if row[0] != 'img_size'}  # ViTConfig's fields: their rows and checks are in vit.py
FLAGS = configurator.table(
    'model',
    ('model', 'vit', models.MODELS, "the network"),
    ('preset', '', ('',) + tuple(vit.PRESETS), "ViT width/depth/heads preset, applied before the other flags"),
    ('img_size', 0, '>= 0', "resize (shorter side) and center-crop every image to img_size x img_size; 0 = native"),
    *VIT.values(),  # every ViTConfig field (patch_size, dim, depth, ...) is a flag too
    ('stem_init', '', 'path', "patch_embed=resnet18: start the stem from this train.py resnet18 checkpoint ('' = random)"),
    ('stem_freeze_epochs', 0, '>= 0', "patch_embed=resnet18: stem frozen (no gradients, BatchNorm in eval mode) for the first N epochs"),
    ('weights', '', "'', imagenet, random or a path (resnet18/34/50, vit as ViT-B/16)",
     "start from: '' our init; imagenet (torchvision's ImageNet weights); PATH (a saved torchvision state dict); "
     "random (their architecture, untrained)"),
    'data',
    ('dataset', 'cifar10', data.DATASETS, "the data (cifar: torchvision downloads it into data_dir)"),
    ('data_dir', 'data', 'path', "where the data is (imagefolder: data_dir/{train,test}/<class>/<image>), or goes"),
    ('val_size', 'auto', 'int >= 0 or float in (0, 1)',
     "held out of train for model selection, the same images for every seed: a count, a share (0.1), or "
     "10% (<= 5000, >= 1/class)"),
    ('subset', 0, '>= 0', "train on this many images (0 = all that val_size leaves)"),
    'optimisation',
    ('batch_size', 128, '>= 1', "training batch"),
    ('epochs', 100, '>= 1', "the schedule's length when there is no time_limit"),
    ('lr', 1e-3, '>= 0', "peak learning rate"),
    ('min_lr', 1e-5, '>= 0', "end of the cosine"),
    ('warmup_epochs', 5, '>= 0', "as a fraction of `epochs`, it also sets the warmup of time-limited runs"),
    ('weight_decay', 0.05, '>= 0', "decoupled, on matrices and conv kernels only"),
    ('optimizer', 'adamw', techniques.OPTIMIZERS, "adamw; lion (lr 3-10x lower, weight_decay 3-10x higher); sgd (Nesterov; weight_decay ~5e-4)"),
    ('grad_clip', 1.0, '>= 0', "gradient-norm clip; 0 = off"),
    ('label_smoothing', 0.1, 'in [0, 1)', "cross-entropy label smoothing"),
    'training techniques',  # data.Loader does augmentation and mixing; techniques.py the rest
    ('augment', 'none', data.AUGMENTS, "per-image policy (autoaugment: the CIFAR-10 policy)"),
    ('color_jitter', 0.0, 'in [0, 1]', "strength s: brightness, contrast, saturation by up to s, hue by up to s/4 (0 = off)"),
    ('erasing', 0.0, 'in [0, 1]', "random-erasing probability per image"),
    ('mixup', 0.0, '>= 0', "mixup alpha (0 = off)"),
    ('cutmix', 0.0, '>= 0', "cutmix alpha (0 = off)"),
    ('mix_prob', 1.0, 'in [0, 1]', "probability that a batch is mixed, when mixup or cutmix is on"),
    ('mix_switch_prob', 0.5, 'in [0, 1]', "with both on: probability that a mixed batch uses cutmix rather than mixup"),
    ('repeat_aug', 1, '>= 1', "DeiT repeated augmentation: each image k times per epoch (epoch length unchanged)"),
    ('workers', 2, '>= 0', "DataLoader processes running the augment policy (unused with augment=none)"),
    ('ema', 0.0, 'in [0, 1)', "per-step decay of an EMA of the weights (0 = off), e.g. 0.999; validated too, the better kept"),
    ('teacher', '', 'path', "distillation teacher: a train.py checkpoint, e.g. runs/resnet18/ckpt_best.pt"),
    ('distill', 'none', techniques.DISTILL, "soft: KL at distill_tau; hard: DeiT's (needs --dist_token=True)"),
    ('distill_alpha', 0.5, 'in [0, 1]', "weight of the distillation term; (1 - alpha) on the label cross-entropy"),
    ('distill_tau', 1.0, '> 0', "softmax temperature of soft distillation"),
    'system',
    ('device', 'auto', ('auto', 'cpu', 'cuda', 'mps'), "auto = cuda, then mps, then cpu"),
    ('dtype', 'auto', ('auto', 'float32', 'bfloat16'), "auto = bfloat16 autocast on cuda and on CPUs with native bf16, else float32"),
    ('compile', 'auto', ('auto', 'True', 'False'),
     "torch.compile, block by block for ViTs; auto = on for cuda only (on a 2-core CPU it does not pay back, see README)"),
    ('seed', 0, 'in [0, 4294967295]', "model init, batch order, augmentation"),
    ('out_dir', 'runs', 'path', "runs go to out_dir/name"),
    ('name', '', 'folder name', "run folder out_dir/name; '' = a timestamp"),
    ('resume', False, 'bool', "continue out_dir/name from ckpt_last.pt"),
    ('overwrite', False, 'bool', "replace a run that already exists in out_dir/name"),
    ('time_limit', 0.0, '>= 0', "minutes of training (0 = none); the schedule runs on elapsed time"),
    ('max_steps', 0, '>= 0', "stop after this many optimizer steps (0 = none); for smoke tests"),
    ('log_interval', 25, '>= 1', "steps between progress-bar updates (each costs one host-device sync)"),
    ('debug', False, 'bool', "show tracebacks for bad input"),
)
defaults = {name: flag.default for name, flag in FLAGS.items()}
globals().update(defaults)


def fail(message, code=2):
    """Bad input: one clear line, no traceback (unless --debug=True)."""
    if debug:
        raise RuntimeError(message)
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


if '--help=markdown' in sys.argv[1:]:  # docs/flags.md's tables
    print(configurator.markdown(FLAGS))
    sys.exit(0)
if '--help' in sys.argv[1:] or '-h' in sys.argv[1:]:
    print(configurator.help_text(FLAGS, 'usage: python train.py [config.py ...] [--name=value ...]  (config files are '
                                        'plain assignments; later arguments win)'))
    sys.exit(0)
debug = '--debug=True' in sys.argv
try:
    config = configurator.configure(defaults, sys.argv[1:], {k: f.allowed for k, f in FLAGS.items() if k not in VIT},
                                    vit.PRESETS)
    vit.check_fields({k: config[k] for k in VIT})  # ViTConfig's checks alone: each field's range (any model), then
    if config['model'] == 'vit':  # the model's (heads divide dim, rope widths, ...), before any data
        models.vit_config({**config, 'img_size': config['img_size'] or config['patch_size']})
except (configurator.ConfigError, ValueError) as e:
    fail(e)
globals().update(config)
if os.path.isabs(name) or '..' in name.split(os.sep):
    fail(f"--name={name!r} must be a folder name inside out_dir (relative, no '..')")
if os.path.exists(out_dir) and not os.path.isdir(out_dir):
    fail(f"--out_dir={out_dir!r} is a file, not a folder")
for _flag in ('teacher', 'stem_init'):
    if config[_flag] and not os.path.isfile(config[_flag]):
        fail(f"--{_flag}: checkpoint {config[_flag]!r} does not exist")
if distill != 'none' and not teacher:
    fail(f"--distill={distill} needs --teacher=path/to/ckpt_best.pt (a checkpoint train.py wrote)")
if teacher and distill == 'none':
    fail("--teacher is set but --distill=none; choose --distill=soft or --distill=hard")
if (stem_init or stem_freeze_epochs) and not (model == 'vit' and patch_embed == 'resnet18'):
    fail("--stem_init and --stem_freeze_epochs act on the ResNet stem: they need --model=vit --patch_embed=resnet18")
if weights == 'random' and model not in models.IMAGENET:
    fail(f"--weights=random builds torchvision's ImageNet architecture, untrained: --model must be one of {', '.join(models.IMAGENET)}")
if distill == 'hard' and not (model == 'vit' and dist_token):
    fail("--distill=hard trains the distillation token's head: it needs --model=vit --dist_token=True "
         "(--distill=soft works with any model)")

# ----------------------------------------------------------------------------- setup
torch.manual_seed(seed)
device, device_type = techniques.setup_device(device)
# torchrun: one process per GPU (or several on a CPU, gloo), DistributedDataParallel; every rank holds the data and
# trains on its part of each global batch; rank 0 alone prints and writes logs and checkpoints
rank, world_size = techniques.setup_distributed(device_type)
if batch_size % world_size:
    fail(f"--batch_size={batch_size} is the global batch, split over the {world_size} torchrun processes: "
         f"it must be divisible by {world_size}")
if rank:
    sys.stdout = open(os.devnull, 'w')
pretrained = None  # --weights: read and checked against the model flags before any data loads
if weights not in ('', 'random') and not resume:  # resume: the checkpoint holds the weights
    with techniques.rank0_first():  # torchrun: one download
        try:
            pretrained = models.read_weights(config)
        except ValueError as e:
            fail(e)
if dtype == 'auto':
    dtype = 'bfloat16' if techniques.native_bf16(device_type) else 'float32'
autocast = techniques.autocast(device_type, dtype)
try:  # the run folder: locked, and checked against --resume and --overwrite before any data loads
    run = lifecycle.open_run(out_dir, name, resume, overwrite, rank, world_size)
except lifecycle.RunError as e:
    fail(e)

with techniques.rank0_first():  # torchrun: one download/decode; and every rank has checked the run folder before rank 0 writes
    try:
        ds = data.load_dataset(dataset, data_dir, img_size)
        (train_x, train_y), (val_x, val_y) = data.split_train_val(ds['train_x'], ds['train_y'], val_size, subset)
    except data.DataError as e:
        fail(e)
ds['train_x'] = ds['train_y'] = None  # the split holds copies: free the full set
if ds['skipped']:
    print(f"note: skipped {len(ds['skipped'])} unreadable image files (log['data']['skipped_files']), e.g. {ds['skipped'][0]}")
if len(train_x) < batch_size:
    fail(f"--batch_size={batch_size} is more than the {len(train_x)} training images (after val_size and subset)")
if model == 'vit' and train_x.shape[2] != train_x.shape[3]:
    fail(f"the images are {train_x.shape[3]}x{train_x.shape[2]} and the ViT needs square ones: pass --img_size=N")
in_chans, img_size = train_x.shape[1], train_x.shape[2]
if weights and in_chans != 3:
    fail(f"--weights={weights}: the ImageNet architectures take RGB images; these have {in_chans} channel(s)")
num_classes = len(ds['classes'])
config.update(num_classes=num_classes, in_chans=in_chans, img_size=img_size, device=device, dtype=dtype)
data_log = {'train': len(train_x), 'val': len(val_x), 'test': len(ds['test_x']), 'skipped': len(ds['skipped']),
            'skipped_files': ds['skipped'][:100]}  # the actual split and what could not be read
if device_type == 'cuda':  # the loaders keep every image on the GPU
    try:
        data.check_memory(len(train_x) + len(val_x) + len(ds['test_x']), train_x.shape[1:], dataset, device)
    except data.DataError as e:
        fail(e)
# --weights: the normalisation the ImageNet weights were trained with (the untrained control too, so that only the weights differ)
mean, std = (models.IMAGENET_MEAN, models.IMAGENET_STD) if weights else data.channel_stats(train_x)
train_loader = data.Loader(train_x, train_y, batch_size, device, mean, std, train=True, seed=seed, augment=augment, color_jitter=color_jitter,
                           erasing=erasing, mixup=mixup, cutmix=cutmix, mix_prob=mix_prob, mix_switch_prob=mix_switch_prob,
                           repeat_aug=repeat_aug, num_classes=num_classes, workers=workers, rank=rank, world_size=world_size)
val_loader = data.Loader(val_x, val_y, 512, device, mean, std, rank=rank, world_size=world_size)
test_loader = data.Loader(ds['test_x'], ds['test_y'], 512, device, mean, std, rank=rank, world_size=world_size)

try:
    net = models.build_model(config).to(device)
except ValueError as e:
    fail(e)
if pretrained is not None:
    try:
        models.load_weights(net, pretrained)
    except ValueError as e:
        fail(e)
    pretrained = None  # the net holds them now: free the copy
if model == 'vit' and patch_init == 'whiten':
    techniques.whiten_patch_embed(net, train_loader.normalize(train_loader.x[:5000]))
if stem_init:
    try:
        models.load_resnet_stem(net, stem_init, device)
    except ValueError as e:
        fail(e)
n_params, flops = models.count_params(net), models.flops_per_image(net, (in_chans, img_size, img_size))
opt = techniques.build_optimizer(optimizer, net, lr, weight_decay)
ema_net = techniques.make_ema(net) if ema else None  # evaluated uncompiled: eval is a small part of a run
# auto compiles on CUDA only. On this 2-core CPU compilation costs ~50 s cold (a few seconds once inductor's
# on-disk cache holds the config) and did not make the bf16 step reliably faster: bench.py measured
# compiled 0.95x and 0.92x eager in two runs, an interleaved in-process A/B +9% (README, Speed).
use_compile = device_type == 'cuda' if compile == 'auto' else compile == 'True'
config['compile'] = str(use_compile)  # the log records what auto chose
step_model = models.compile_model(net) if use_compile else net  # after make_ema: the EMA copy stays eager
train_model = techniques.ddp(step_model, device)  # evaluation runs step_model on each rank's batches
try:
    teacher_net = techniques.load_teacher(teacher, device, num_classes, img_size, in_chans) if teacher else None
except ValueError as e:
    fail(e)

steps_per_epoch = len(train_loader)
total_steps = epochs * steps_per_epoch if not max_steps else min(max_steps, epochs * steps_per_epoch)
warmup = warmup_epochs / epochs
if warmup > 0.5:
    print(f"note: warmup_epochs={warmup_epochs} of epochs={epochs}; warming up over the first half of the run instead")
    warmup = 0.5


def lr_at(progress):
    """Linear warmup, then cosine from lr to min_lr; progress runs 0 -> 1 over the run."""
    if progress < warmup:
        return lr * progress / warmup
    t = min((progress - warmup) / (1 - warmup), 1.0)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * t))


@torch.no_grad()
def evaluate(loader, model=None):
    """(loss, accuracy) of model (default: the training net, compiled where it is) over loader, every rank's batches."""
    net.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for x, y in loader:
        with autocast:
            logits = (step_model if model is None else model)(x)
        loss_sum += F.cross_entropy(logits.float(), y, reduction='sum')
        correct += (logits.argmax(1) == y).sum()
    net.train()
    techniques.all_reduce(loss_sum)  # torchrun: sums over every rank's batches
    techniques.all_reduce(correct)
    n = len(loader.x)
    return loss_sum.item() / n, correct.item() / n


log = {'name': os.path.basename(run.dir), 'status': 'running', 'config': config, 'recipe': configurator.config_files(sys.argv[1:]),
       'model': {'params': n_params, 'flops_per_image': flops},
       'data': data_log,
       'env': techniques.environment(device, device_type, world_size),
       'history': [], 'final': {}}
try:  # resume: weights, optimizer, counters and RNG states from ckpt_last.pt; from here on the log survives a crash
    step, elapsed, start_epoch = run.start(log, net, opt, ema_net, train_loader.generator, config, device, resume, overwrite)
except lifecycle.RunError as e:
    fail(e)
print(f"{model}: {n_params:,} params, {flops / 1e6:.1f} MFLOPs/image | {len(train_x)} train, {len(val_x)} val, "
      f"{len(ds['test_x'])} test | {device}, {dtype}, compile={use_compile} | {run.dir}")
# torchrun: the ranks' dropout masks differ (the global RNG stream must stay alike for data.Loader)
rank_rng = techniques.rank_rng(seed, rank, step, device)

# ----------------------------------------------------------------------------- loop
# Losses and accuracy accumulate on the device; the host reads them only at logging points, so the
# GPU never waits on Python. On the CPU a read is free, so divergence is checked every step there.
check_every = 1 if device_type == 'cpu' else log_interval
epoch = start_epoch
while epoch < epochs and step < total_steps and not (time_limit and elapsed >= time_limit * 60):
    if stem_freeze_epochs:
        train_model = techniques.freeze_stem(net, epoch < stem_freeze_epochs, step_model, train_model, device)
    epoch_start, epoch_steps = run.start_epoch(), 0
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    bar = tqdm(train_loader, desc=f"epoch {epoch}", leave=False, dynamic_ncols=True, mininterval=2,
               disable=None if rank == 0 else True)  # None: no bar where stderr is not a terminal (parallel studies)
    for x, y in bar:
        progress = step / total_steps
        if time_limit:
            progress = max(progress, (elapsed + run.seconds()) / (time_limit * 60))
        for group in opt.param_groups:
            group['lr'] = lr_at(progress)
        with autocast, rank_rng:
            # a distillation token's head learns on its own; the accuracy is the class head's
            logits, dist_logits = train_model(x, heads=True) if model == 'vit' and dist_token else (train_model(x), None)
            with torch.no_grad():
                teacher_logits = teacher_net(x) if teacher_net is not None else None
            loss = techniques.train_loss(logits, y, label_smoothing, teacher_logits, distill, distill_alpha, distill_tau,
                                         dist_logits=dist_logits)
        techniques.backward_step(loss, net, opt, grad_clip)
        techniques.ema_update(ema_net, net, ema, step)
        loss_sum += loss.detach()
        correct += (logits.argmax(1) == (y if y.ndim == 1 else y.argmax(1))).sum()  # mixed: the larger part
        step, epoch_steps = step + 1, epoch_steps + 1
        if run.diverged(step, loss_sum, every=check_every):
            break
        if step % log_interval == 0:
            bar.set_postfix(loss=f"{loss_sum.item() / epoch_steps:.3f}", acc=f"{correct.item() / (epoch_steps * len(x)):.3f}",
                            img_s=f"{epoch_steps * batch_size / (time.time() - epoch_start):.0f}", lr=f"{lr_at(progress):.2e}")
        if run.stop_signal or step >= total_steps or (time_limit and progress >= 1):
            break
    bar.close()
    train_time = time.time() - epoch_start
    techniques.all_reduce(loss_sum).div_(world_size)  # torchrun: the epoch's train metrics over every rank
    techniques.all_reduce(correct)                    # (loss_sum: sums of per-rank means)
    if run.diverged(step, loss_sum) or run.stop_signal:
        break
    val_loss, val_acc = evaluate(val_loader) if len(val_x) else (float('nan'), float('nan'))
    ema_log, score, use_ema = techniques.ema_validate(ema_net, lambda m: evaluate(val_loader, m), val_acc)
    elapsed = techniques.from_rank0(elapsed + time.time() - epoch_start, device)  # torchrun: rank 0's clock, alike on all
    entry = {'epoch': epoch, 'step': step, 'lr': lr_at(progress), 'train_loss': loss_sum.item() / epoch_steps,
             'train_acc': correct.item() / (epoch_steps * batch_size), 'val_loss': val_loss, 'val_acc': val_acc,
             'epoch_time_s': time.time() - epoch_start, 'img_per_s': epoch_steps * batch_size / train_time, **ema_log}
    print(f"epoch {epoch} step {step}: train loss {entry['train_loss']:.4f} acc {entry['train_acc']:.4f} | "
          f"val loss {val_loss:.4f} acc {val_acc:.4f}" + (f" (ema {ema_log['ema_val_acc']:.4f})" if ema_log else '')
          + f" | {entry['img_per_s']:.0f} img/s | {elapsed / 60:.1f} min")
    run.end_epoch(entry, elapsed, score, use_ema)  # ckpt_best.pt when score is the best so far, the log, ckpt_last.pt
    epoch += 1
# DDP's reducer holds the process group and DDP sits in reference cycles: free it now, so that the group goes at exit
del train_model
train_loader.close()
gc.collect()
run.end_training(elapsed, techniques.peak_memory_mb(device_type))  # diverged or interrupted: exits here

# ----------------------------------------------------------------------------- test, once
techniques.barrier()  # torchrun: rank 0 has written ckpt_best
best = torch.load(run.best_path, map_location=device, weights_only=False)
net.load_state_dict(best['model'])
log['final']['test_weights'] = best.get('weights', 'raw')  # 'ema' when the EMA weights won on val
test_loss, test_acc = evaluate(test_loader)
run.done(test_loss, test_acc)
print(f"test acc {test_acc:.4f} (checkpoint of epoch {run.best_epoch}, val acc {run.best_val_acc:.4f}) | "
      f"{elapsed / 60:.1f} min | log {run.log_path}")
