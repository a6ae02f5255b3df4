"""Training techniques train.py uses around its step: device and autocast setup (and the log's record of the
machine), the step itself, optimizers (Lion by hand), the EMA of the weights, freezing a hybrid's ResNet stem,
the knowledge-distillation losses with the teacher they need, and the patch projection fitted to the data
(patch_init=whiten). Augmentation and mixing live in data.py.
Under torchrun, the few distributed helpers train.py needs (process group, DDP, agreement between ranks); each of
them does nothing in a single process, so the training loop reads the same for one process and many.
"""
import atexit
import copy
import math
import os
import platform
import resource
import subprocess
from contextlib import contextmanager, nullcontext

import torch
import torch.distributed as dist
import torch.nn.functional as F

import models

OPTIMIZERS = ('adamw', 'lion', 'sgd')
DISTILL = ('none', 'soft', 'hard')


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), as in the paper:
        update = sign(beta1 * m + (1 - beta1) * g)
        p      = p - lr * (update + weight_decay * p)      # decoupled weight decay
        m      = beta2 * m + (1 - beta2) * g
    Every coordinate moves by exactly lr, so use an lr 3-10x smaller and a weight decay 3-10x larger
    than AdamW's (the product lr * weight_decay sets the decay strength)."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group['betas']
            for p in group['params']:
                if p.grad is None:
                    continue
                m = self.state[p].setdefault('exp_avg', torch.zeros_like(p))
                update = (beta1 * m + (1 - beta1) * p.grad).sign_()
                p.mul_(1 - group['lr'] * group['weight_decay']).add_(update, alpha=-group['lr'])
                m.lerp_(p.grad, 1 - beta2)


def build_optimizer(name, net, lr, weight_decay):
    """Weight decay only on matrices and conv kernels, not on biases, norm gains or LayerScale.
    sgd: Nesterov, momentum 0.9; its weight decay is the coupled L2 kind (use ~5e-4, not AdamW's 0.05).
    AdamW is fused (one kernel over all parameters) on CUDA and the CPU, where torch has it: on this CPU
    7.6 -> 2.9 ms per step for the baseline ViT's 2.7 M parameters."""
    decay = [p for p in net.parameters() if p.dim() >= 2]
    no_decay = [p for p in net.parameters() if p.dim() < 2]
    groups = [{'params': decay, 'weight_decay': weight_decay}, {'params': no_decay, 'weight_decay': 0.0}]
    if name == 'adamw':
        fused = next(net.parameters()).device.type in ('cuda', 'cpu')
        return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), fused=fused)
    if name == 'lion':
        return Lion(groups, lr=lr)
    if name == 'sgd':
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    raise ValueError(f"optimizer={name!r} is not one of {', '.join(OPTIMIZERS)}")


def setup_device(device):
    """'auto' -> cuda, then mps, then cpu; returns (device, device_type). Under torchrun each process takes the
    GPU of its LOCAL_RANK. On CUDA, TF32 matmuls and convs (GPU only, ~free accuracy-wise)."""
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'mps' if torch.backends.mps.is_available() else 'cpu'
    device_type = device.split(':')[0]
    if device_type == 'cuda' and 'LOCAL_RANK' in os.environ:
        device = f"cuda:{os.environ['LOCAL_RANK']}"
        torch.cuda.set_device(device)
    if device_type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device, device_type


def environment(device, device_type, world_size):
    """The log's 'env': torch, device, a short machine string for the figures (the GPU's name, else the CPU's
    from /proc/cpuinfo), on a CPU the vector instructions torch uses (cpu_isa), the number of ranks and the git
    commit of the code that ran."""
    cpu = ''
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((l.split(':', 1)[1].strip() for l in f if l.startswith('model name')), '')
    except OSError:
        pass
    machine = (torch.cuda.get_device_name() if device_type == 'cuda'
               else f"{cpu or platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    try:
        commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=os.path.dirname(os.path.abspath(__file__)),
                                capture_output=True, text=True, timeout=5).stdout.strip() or 'unknown'
    except (OSError, subprocess.SubprocessError):  # no git, or a git slower than 5 s (a cold disk): not worth a failed run
        commit = 'unknown'
    env = {'torch': torch.__version__, 'device': device, 'machine': machine, 'world_size': world_size,
           'threads': torch.get_num_threads(), 'git_commit': commit}  # threads: float sums depend on it
    if device_type == 'cpu':  # so do the vector instructions: one CPU model may run AVX512 in one VM, AVX2 in another
        env['cpu_isa'] = torch.backends.cpu.get_cpu_capability()
    return env


def setup_distributed(device_type):
    """Under torchrun (it sets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT for every process): join the process
    group, NCCL on CUDA, gloo on the CPU; returns (rank, world_size). Without torchrun, or with one process: (0, 1)
    and nothing is set up, so train.py runs exactly as a single process."""
    world_size = int(os.environ.get('WORLD_SIZE', 1))
    if world_size == 1:
        return 0, 1
    # DistributedDataParallel imports torch._dynamo, and that import, made while a process group exists, keeps ten
    # references to the group for good. destroy_process_group then frees nothing, gloo's worker threads live on into
    # interpreter shutdown, and one still releasing the last collective's tensors there takes the GIL and aborts the
    # rank ("terminate called without an active exception": 1 of ~140 two-rank test trainings; 6 of 75 runs of a
    # script that exits right after its last all_reduce, 0 of 75 with this import). Imported first, it leaves the
    # group alone.
    import torch._dynamo  # noqa: F401
    dist.init_process_group('nccl' if device_type == 'cuda' else 'gloo')
    atexit.register(leave_process_group)
    return dist.get_rank(), world_size


def leave_process_group():
    """Free the process group (gloo: join its threads) while Python is still whole; a no-op when there is none."""
    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce(t):
    """Sum t over the ranks, in place; without a process group, t as it is."""
    if dist.is_initialized():
        dist.all_reduce(t)
    return t


def barrier():
    if dist.is_initialized():
        dist.barrier()


@contextmanager
def rank0_first():
    """Rank 0 runs the block (a download, a decode into a cache) before the other ranks, which then find its result;
    no rank leaves it before all have entered it."""
    if dist.is_initialized() and dist.get_rank() > 0:
        dist.barrier()
    yield
    if dist.is_initialized() and dist.get_rank() == 0:
        dist.barrier()


def agree(loss_sum, signal, seconds):
    """What every rank must decide alike, from one all-reduce (MAX): whether any rank's loss is non-finite, the
    signal any rank got (None = none), and rank 0's clock (a time-limited run's LR and its end follow it). A rank
    that decided alone would leave the others waiting in the next gradient all-reduce. Without a process group:
    this process's own (bad, signal, seconds)."""
    bad = not math.isfinite(loss_sum.item())
    if not dist.is_initialized():
        return bad, signal, seconds
    t = torch.tensor([float(bad), float(signal or 0), seconds if dist.get_rank() == 0 else 0.0],
                     dtype=torch.float64, device=loss_sum.device)
    dist.all_reduce(t, dist.ReduceOp.MAX)
    bad, signal, seconds = t.tolist()
    return bad > 0, int(signal) or None, seconds


def from_rank0(value, device):
    """Rank 0's value of a float; without a process group, value."""
    if not dist.is_initialized():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(t, 0)
    return t.item()


def ddp(module, device):
    """Under torchrun, DistributedDataParallel: it averages the gradients over the ranks, of the parameters that
    train when it is built. Without a process group: module itself."""
    if not dist.is_initialized():
        return module
    return torch.nn.parallel.DistributedDataParallel(
        module, device_ids=[torch.device(device)] if torch.device(device).type == 'cuda' else None)


def rank_rng(seed, rank, step, device):
    """The context the model's forward runs in: under torchrun, the rank's own random stream (RankRNG); without a
    process group the model draws from the global stream, as it always did."""
    return RankRNG(seed, rank, step, device) if dist.is_initialized() else nullcontext()


class RankRNG:
    """Under torchrun, this rank's own random stream for the model's dropout and drop path, swapped in around the
    forward. The global stream stays the same on every rank, as data.Loader needs: each rank augments the whole
    global batch alike and keeps its part. Without it, all ranks would draw the same dropout masks."""

    def __init__(self, seed, rank, step, device):
        self.cuda = torch.device(device) if torch.device(device).type == 'cuda' else None
        outer = self.get()
        torch.manual_seed(hash((seed, rank, step)))  # step: a resumed run does not replay its first masks
        self.state = self.get()
        self.set(outer)

    def get(self):
        return torch.get_rng_state(), torch.cuda.get_rng_state(self.cuda) if self.cuda else None

    def set(self, state):
        torch.set_rng_state(state[0])
        if self.cuda:
            torch.cuda.set_rng_state(state[1], self.cuda)

    def __enter__(self):
        self.outer = self.get()
        self.set(self.state)

    def __exit__(self, *exc):
        self.state = self.get()
        self.set(self.outer)


def native_bf16(device_type):
    """Whether bf16 runs in hardware: on CUDA, and on a CPU with AVX512-BF16 or AMX. Elsewhere (an AVX2 CPU) torch
    emulates it, several times slower than float32, so dtype=auto picks float32 there."""
    return device_type == 'cuda' or (device_type == 'cpu' and torch.backends.mkldnn.is_available()
                                     and torch.cpu._is_avx512_bf16_supported())


def autocast(device_type, dtype):
    """The context the forward runs in: bf16 autocast, or plain float32."""
    return torch.autocast(device_type, dtype=torch.bfloat16) if dtype == 'bfloat16' else nullcontext()


def backward_step(loss, net, opt, grad_clip):
    """Backward, gradient clipping, optimizer step: the step train.py takes and bench.py times."""
    loss.backward()
    optimizer_step(net, opt, grad_clip)


def optimizer_step(net, opt, grad_clip):
    """Gradient clipping, optimizer step, gradients cleared (bench.py --phases times it apart from the backward)."""
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
    opt.step()
    opt.zero_grad(set_to_none=True)


def make_ema(net):
    """A frozen copy of the model whose weights follow the training weights' moving average."""
    ema = copy.deepcopy(net).eval()
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def ema_update(ema, net, decay, step):
    """ema = d * ema + (1 - d) * weights, with d = min(decay, (1 + step) / (10 + step)): the warm-up
    (as in TensorFlow's ExponentialMovingAverage) keeps the average from dragging in the random init on
    short runs. Float buffers (BatchNorm statistics) are averaged too; integer ones are copied. ema None: EMA off."""
    if ema is None:
        return
    d = min(decay, (1 + step) / (10 + step))
    ema_state, state = ema.state_dict(), net.state_dict()
    floats = [k for k, v in ema_state.items() if v.is_floating_point()]
    torch._foreach_lerp_([ema_state[k] for k in floats], [state[k] for k in floats], 1 - d)
    for k, v in ema_state.items():
        if not v.is_floating_point():
            v.copy_(state[k])


def ema_validate(ema, validate, val_acc):
    """The EMA's part of an epoch's end: its weights are validated too (validate(model) -> (loss, acc)), and the
    better of the two weight sets competes for ckpt_best (no val split, val_acc nan: the EMA's), so that the test,
    a teacher or a plot that loads ckpt_best gets the best weights. Returns (the epoch's EMA fields for the log,
    the val accuracy that competes, whether it is the EMA's); EMA off (ema None): ({}, val_acc, False)."""
    if ema is None:
        return {}, val_acc, False
    if math.isnan(val_acc):
        return {}, val_acc, True
    loss, acc = validate(ema)
    fields = {'ema_val_loss': loss, 'ema_val_acc': acc}
    return (fields, acc, True) if acc > val_acc else (fields, val_acc, False)


def freeze_stem(net, frozen, step_model, train_model, device):
    """patch_embed=resnet18: the ResNet stem and stages frozen (no gradients, so the optimizer skips them and their
    weight decay; BatchNorm in eval mode, its statistics kept) or trained; the projection after them always trains.
    Called at every epoch's start, as evaluation puts the whole net back in train mode. Returns the model to train:
    under torchrun a new DDP of step_model when the trained parameters change (DDP waits for the gradients of the
    parameters that trained when it was built), else train_model."""
    stem = net.patch_embed[:2]
    changed = next(stem.parameters()).requires_grad == frozen
    stem.requires_grad_(not frozen).train(not frozen)
    return ddp(step_model, device) if changed else train_model


def peak_memory_mb(device_type):
    """The run's peak memory: allocated on the GPU; on the CPU the peak RSS of the process."""
    if device_type == 'cuda':
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_teacher(path, device, num_classes, img_size, in_chans):
    """The teacher model of a train.py checkpoint, in eval mode and frozen; ValueError naming the file
    when it does not fit the data."""
    teacher, cfg = models.load_model(path, device)
    want = dict(num_classes=num_classes, img_size=img_size, in_chans=in_chans)
    bad = {k: cfg.get(k) for k, v in want.items() if cfg.get(k) != v}
    if bad:
        raise ValueError(f"teacher {path!r} was trained with " + ', '.join(f"{k}={v}" for k, v in bad.items())
                         + " but this data has " + ', '.join(f"{k}={want[k]}" for k in bad))
    return teacher.eval().requires_grad_(False)


def soft_distill_loss(logits, teacher_logits, tau):
    """Hinton's distillation term: tau^2 * KL(teacher || student) of the tau-softened distributions,
    averaged over the batch (tau^2 keeps its gradient scale independent of tau)."""
    return F.kl_div(F.log_softmax(logits.float() / tau, dim=1), F.log_softmax(teacher_logits.float() / tau, dim=1),
                    reduction='batchmean', log_target=True) * tau * tau


def train_loss(logits, y, label_smoothing, teacher_logits=None, distill='none', alpha=0.5, tau=1.0, dist_logits=None):
    """The training loss for the class head's logits and labels y (int64, or mixed soft targets); dist_logits: the
    distillation head's, from a ViT with dist_token (its forward(x, heads=True)).
      none: cross-entropy; with a distillation token both heads learn the labels (mean of the two).
      soft: (1 - alpha) * CE + alpha * soft_distill_loss; the KD term on the distillation head if present.
      hard: (1 - alpha) * CE(class head) + alpha * CE(distillation head, teacher's argmax), as in DeiT."""
    ce = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
    student = logits if dist_logits is None else dist_logits  # the head that learns from the teacher
    if distill == 'soft':
        return (1 - alpha) * ce + alpha * soft_distill_loss(student, teacher_logits, tau)
    if distill == 'hard':
        return (1 - alpha) * ce + alpha * F.cross_entropy(student, teacher_logits.argmax(1))
    if dist_logits is not None:
        return (ce + F.cross_entropy(dist_logits, y, label_smoothing=label_smoothing)) / 2
    return ce


@torch.no_grad()
def whiten_patch_embed(model, images, n_patches=20000, eps=1e-4):
    """patch_init=whiten: the first min(dim, C*p*p) output channels become the principal components
    of pixel patches, scaled to unit variance (PCA whitening, as airbench's first layer); the rest keep
    their random init. images: float tensor (N, C, H, W), already normalised like training input; with
    patch_norm the statistics are those of the normalised patches, which is what the projection sees."""
    conv, p = model.patch_embed, model.cfg.patch_size
    patches = F.unfold(model.pixel_norm(images.float()), p, stride=p).transpose(1, 2).flatten(0, 1)  # (N*L, C*p*p)
    patches = patches[torch.randperm(len(patches), generator=torch.Generator().manual_seed(0))[:n_patches]]
    mean = patches.mean(0)
    cov = torch.cov(patches.T)
    evals, evecs = torch.linalg.eigh(cov)
    order = evals.argsort(descending=True)
    k = min(conv.out_channels, len(evals))
    rows = (evecs[:, order[:k]] / (evals[order[:k]] + eps).sqrt()).T  # (k, C*p*p)
    conv.weight[:k] = rows.reshape(k, *conv.weight.shape[1:]).to(conv.weight)
    conv.bias[:k] = -(rows @ mean).to(conv.bias)
    return k
