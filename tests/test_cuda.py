"""The CUDA path: a compiled bf16 training step, fused AdamW, the SDPA kernels, checkpoints written on the GPU
and read on the CPU, a model that learns, and two NCCL ranks against one process. Skipped without CUDA.
Last run on one H200 (torch 2.x, CUDA): 6 passed, 1 skipped (the multi-GPU test needs two GPUs)."""
import copy
import math
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
import data
import models
import techniques
import vit
from test_distributed import assert_same_run, train
from test_robust import read_log

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
BASELINE = dict(vit.config_fields(), model='vit', num_classes=10, in_chans=3, img_size=32)


def baseline_vit(**overrides):
    torch.manual_seed(0)
    return models.build_model(dict(BASELINE, **overrides)).to('cuda')


def batch(n=64):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, 32, 32, generator=g).cuda(), torch.randint(10, (n,), generator=g).cuda()


def test_compiled_bf16_step_matches_eager():
    """train.py's step (regional compile, bf16 autocast, fused AdamW, clip) against the same step in eager mode."""
    from torch._dynamo.utils import counters
    torch._dynamo.reset()
    eager = baseline_vit()
    compiled = copy.deepcopy(eager)
    step_model = models.compile_model(compiled)
    x, y = batch()
    autocast = techniques.autocast('cuda', 'bfloat16')
    losses = []
    for net, fwd in ((eager, eager), (compiled, step_model)):
        opt = techniques.build_optimizer('adamw', net, 1e-3, 0.05)
        for _ in range(3):
            with autocast:
                loss = techniques.train_loss(fwd(x), y, 0.1)
            techniques.backward_step(loss, net, opt, 1.0)
        losses.append(loss.item())
    assert counters['stats']['unique_graphs'] >= 1  # dynamo did compile something
    assert all(math.isfinite(l) for l in losses) and losses[1] == pytest.approx(losses[0], rel=2e-2)
    assert list(compiled.state_dict()) == list(eager.state_dict())  # checkpoints keep plain keys
    for a, b in zip(eager.parameters(), compiled.parameters()):
        assert torch.allclose(a, b, atol=2e-2)


def test_fused_adamw_matches_the_plain_loop():
    net = baseline_vit()
    ref_net = copy.deepcopy(net)
    opt = techniques.build_optimizer('adamw', net, 1e-3, 0.05)
    ref = techniques.build_optimizer('adamw', ref_net, 1e-3, 0.05)
    assert all(g['fused'] for g in opt.param_groups)
    for g in ref.param_groups:
        g.update(fused=False, foreach=False)  # the reference: torch's single-tensor AdamW
    x, y = batch()
    for _ in range(3):  # both take the same gradients (SDPA's backward is not bitwise deterministic)
        techniques.train_loss(net(x), y, 0.1).backward()
        for p, q in zip(net.parameters(), ref_net.parameters()):
            q.grad = p.grad.clone()
        for o in (opt, ref):
            o.step()
            o.zero_grad(set_to_none=True)
    for a, b in zip(net.parameters(), ref_net.parameters()):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize('dtype', ['bfloat16', 'float32'])
def test_attention_runs_the_sdpa_kernels(dtype):
    """Restricted to one fused backend, the forward fails ("No available kernel") if any attention of the model
    cannot take it; the profiler then names the kernels that ran. bf16: flash; float32: memory-efficient."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    backend, op = ((SDPBackend.FLASH_ATTENTION, 'flash') if dtype == 'bfloat16'
                   else (SDPBackend.EFFICIENT_ATTENTION, 'efficient'))
    net = baseline_vit()
    x, y = batch()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]) as prof:
        with sdpa_kernel(backend), techniques.autocast('cuda', dtype):
            loss = techniques.train_loss(net(x), y, 0.1)
        loss.backward()
        torch.cuda.synchronize()
    names = [e.key for e in prof.key_averages()]
    assert f'aten::_{op}_attention_forward' in names and f'aten::_{op}_attention_backward' in names, names
    assert 'aten::_softmax' not in names  # not the explicit path (the loss's softmax is aten::_log_softmax)


def test_checkpoint_written_on_gpu_reads_on_cpu(tmp_path):
    """train.py on the GPU (compiled, bf16) writes the checkpoints; the CPU loads them and computes the same
    logits in float32 (CPU: explicit attention; GPU: SDPA)."""
    r = subprocess.run([sys.executable, 'train.py', '--device=cuda', '--compile=True', '--dataset=synthetic',
                        '--val_size=100', '--dim=64', '--depth=2', '--heads=2', '--epochs=1', '--max_steps=3',
                        f'--out_dir={tmp_path}', '--name=r'], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    ckpt = torch.load(tmp_path / 'r' / 'ckpt_last.pt', map_location='cpu', weights_only=False)
    assert ckpt['config']['device'].startswith('cuda') and ckpt['config']['compile'] == 'True'
    assert all(t.device.type == 'cpu' for t in ckpt['model'].values())
    cpu_net, _ = models.load_model(str(tmp_path / 'r' / 'ckpt_best.pt'), 'cpu')
    gpu_net, _ = models.load_model(str(tmp_path / 'r' / 'ckpt_best.pt'), 'cuda')
    x = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        cpu_logits = cpu_net.eval()(x)
        gpu_logits = gpu_net.eval()(x.cuda()).cpu()
    assert torch.allclose(cpu_logits, gpu_logits, atol=1e-3, rtol=1e-3)


def test_loss_falls_in_a_few_hundred_steps():
    """The baseline ViT, compiled, bf16, on synthetic data with class structure: 300 steps of batch 128."""
    ds = data.synthetic(n_train=5000, n_test=1000)
    mean, std = data.channel_stats(ds['train_x'])
    loader = data.Loader(ds['train_x'], ds['train_y'], 128, 'cuda', mean, std, train=True, workers=0)
    net = baseline_vit()
    step_model = models.compile_model(net)
    opt = techniques.build_optimizer('adamw', net, 5e-4, 0.05)
    autocast = techniques.autocast('cuda', 'bfloat16')
    losses = []
    while len(losses) < 300:
        for x, y in loader:
            with autocast:
                loss = techniques.train_loss(step_model(x), y, 0.1)
            techniques.backward_step(loss, net, opt, 1.0)
            losses.append(loss.detach())
            if len(losses) == 300:
                break
    first, last = torch.stack(losses[:20]).mean().item(), torch.stack(losses[-20:]).mean().item()
    assert last < 0.6 * first, (first, last)  # ln(10) = 2.30 at the start
    test = data.Loader(ds['test_x'], ds['test_y'], 500, 'cuda', mean, std)
    net.eval()
    with torch.no_grad(), autocast:
        correct = sum((step_model(x).argmax(1) == y).sum().item() for x, y in test)
    assert correct / len(ds['test_x']) > 0.5  # chance: 0.1


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason='needs two GPUs (NCCL: one rank per GPU)')
def test_two_nccl_ranks_train_as_one_process(tmp_path):
    flags = ['--device=cuda', '--compile=False']
    for name, ranks in (('one', 1), ('two', 2)):
        code, _, err = train(flags + [f'--name={name}'], tmp_path, ranks)
        assert code == 0, err
    # looser than on the CPU: TF32 matmuls and NCCL's reduction order
    assert_same_run(read_log(tmp_path / 'two'), read_log(tmp_path / 'one'), rel=1e-3)
