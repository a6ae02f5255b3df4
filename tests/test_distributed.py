"""torchrun on the CPU: 2 gloo ranks (`python -m torch.distributed.run --nproc_per_node=2 train.py ...`) against
one plain process, same flags and seed.

What differs between 1 and 2 ranks, and why the runs still match: every rank draws the same epoch order and
augments the whole global batch alike (same seed, same RNG state), then keeps its half; DDP averages the two
halves' gradients, which is the gradient of the mean over the whole batch. So the step is the same math up to
the order of float reductions (float32 here: bf16 autocast would round the half-batch matmuls differently);
no dropout. Measured on a 2-core AMD EPYC CPU: train losses 2e-7 apart after 30 steps, validation losses equal.
Tolerance: 1e-5 relative on every loss, one image on every accuracy.
"""
import json
import os
import signal
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT, run_train
import data
import techniques
from test_robust import TINY, read_log, wait_for_epochs

PY = sys.executable
FLAGS = TINY + ['--dtype=float32', '--workers=0', '--batch_size=10', '--epochs=3', '--name=r']  # 50 steps an epoch


def torchrun(args, cwd=ROOT, **popen):
    """`--standalone`: a free port per launch, so two tests never share a rendezvous."""
    return subprocess.Popen([PY, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def train(args, out_dir, ranks):
    """(returncode, stdout, stderr): 2 ranks under torchrun; 1 in this process (conftest.run_train: no start-up)."""
    flags = [*FLAGS, f'--out_dir={out_dir}', *args]
    if ranks == 1:
        r = run_train(*flags)
        return r.returncode, r.stdout, r.stderr
    p = torchrun(['train.py', *flags])
    out, err = p.communicate(timeout=300)
    return p.returncode, out, err


@pytest.fixture(scope='module')
def one(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp('one')
    code, _, err = train([], out_dir, ranks=1)
    assert code == 0, err
    return read_log(out_dir / 'r')


def assert_same_run(log, ref, rel=1e-5):
    assert [(h['epoch'], h['step'], h['lr']) for h in log['history']] == [(h['epoch'], h['step'], h['lr']) for h in ref['history']]
    for h, r in zip(log['history'], ref['history']):
        for k in ('train_loss', 'val_loss'):
            assert h[k] == pytest.approx(r[k], rel=rel), (h['epoch'], k, h[k], r[k])
        for k in ('train_acc', 'val_acc'):
            assert h[k] == pytest.approx(r[k], abs=0.011), (h['epoch'], k, h[k], r[k])
    assert log['final']['test_loss'] == pytest.approx(ref['final']['test_loss'], rel=rel)
    assert log['final']['test_acc'] == pytest.approx(ref['final']['test_acc'], abs=0.006)


def test_two_ranks_train_as_one_process(tmp_path, one):
    code, out, err = train([], tmp_path, ranks=2)
    assert code == 0, err
    log = read_log(tmp_path / 'r')
    assert log['status'] == 'done' and log['env']['world_size'] == 2 and one['env']['world_size'] == 1
    assert_same_run(log, one)
    assert sorted(os.listdir(tmp_path)) == ['r'] and sorted(os.listdir(tmp_path / 'r')) == ['ckpt_best.pt', 'ckpt_last.pt', 'log.json']
    assert out.count('params, ') == 1 and out.count('test acc') == 1 and out.count('epoch 2 step 150') == 1  # rank 0 prints


def test_the_process_group_is_gone_before_python_shuts_down(tmp_path):
    """After DDP, destroy_process_group must free the gloo group and join its threads. While a group lived on (the
    torch._dynamo import that DDP makes pinned it), a gloo thread could still be releasing the last collective's
    tensors when the interpreter shut down, and the rank aborted now and then; this checks the cause, every run."""
    script = tmp_path / 'teardown.py'
    script.write_text(f"""import gc, os, sys
sys.path.insert(0, {str(ROOT)!r})
import torch
import techniques
techniques.setup_distributed('cpu')
model = techniques.ddp(torch.nn.Linear(3, 3), 'cpu')
model(torch.ones(2, 3)).sum().backward()
del model
gc.collect()
techniques.leave_process_group()
names = [open(f'/proc/self/task/{{task}}/comm').read() for task in os.listdir('/proc/self/task')]
print('gloo threads', sum('gloo' in name for name in names))
""")
    p = torchrun([str(script)], cwd=tmp_path)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert out.count('gloo threads 0') == 2, out


def test_resume_on_another_number_of_ranks(tmp_path, one):
    """Ctrl-C in the terminal reaches torchrun and both ranks: they stop at the same step, rank 0 writes the
    checkpoint; one process resumes it and ends where the uninterrupted one-process run ended."""
    p = torchrun(['train.py', *FLAGS, f'--out_dir={tmp_path}'], start_new_session=True)
    wait_for_epochs(tmp_path / 'r', 1, p)
    os.killpg(p.pid, signal.SIGINT)  # the whole process group, as a terminal's Ctrl-C
    _, err = p.communicate(timeout=120)
    log = read_log(tmp_path / 'r')
    assert log['status'] == 'interrupted' and 'error' not in log and 1 <= len(log['history']) < 3, err
    assert err.count('interrupted by signal 2') == 2  # both ranks stopped cleanly, not killed
    code, out, err = train(['--resume=True'], tmp_path, ranks=1)
    assert code == 0 and f"at epoch {len(log['history'])}" in out, err
    assert_same_run(read_log(tmp_path / 'r'), one)


def test_batch_must_split_over_the_ranks(tmp_path):
    code, _, err = train(['--batch_size=15'], tmp_path, ranks=2)
    assert code != 0 and 'error: --batch_size=15 is the global batch' in err and 'must be divisible by 2' in err
    assert not os.path.exists(tmp_path / 'r')


SCALARS = dict(batch_size=16, device='cpu', seed=3, erasing=0.5, cutmix=1.0, workers=0)
LOADERS = """
import sys
import torch
import torch.distributed as dist
sys.path.insert(0, {root!r})
import data
dist.init_process_group('gloo')
ds = data.synthetic(n_train=64, n_test=8)
kw = dict(x=ds['train_x'], y=ds['train_y'], mean=torch.zeros(3), std=torch.ones(3), **{scalars!r})
out = {{}}
for augment in ('none', 'trivialaugment'):
    torch.manual_seed(0)
    out[augment] = list(data.Loader(**kw, train=True, augment=augment, rank=dist.get_rank(), world_size=2))
out['eval'] = list(data.Loader(**dict(kw, batch_size=10), rank=dist.get_rank(), world_size=2))
torch.save(out, f"{{sys.argv[1]}}/rank{{dist.get_rank()}}.pt")
dist.destroy_process_group()
"""


def test_loader_shards_are_the_one_process_batches(tmp_path):
    """Each rank's part of a batch is its half of the batch one process makes (crop, flip, erasing and cutmix
    included), so the parts are disjoint. With a per-image policy the draws are per rank; the labels still
    match. Evaluation: the ranks take alternate batches."""
    (tmp_path / 'loaders.py').write_text(LOADERS.format(root=ROOT, scalars=SCALARS))
    p = torchrun([str(tmp_path / 'loaders.py'), str(tmp_path)])
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    ranks = [torch.load(tmp_path / f'rank{r}.pt') for r in (0, 1)]
    ds = data.synthetic(n_train=64, n_test=8)
    kw = dict(x=ds['train_x'], y=ds['train_y'], mean=torch.zeros(3), std=torch.ones(3), **SCALARS)
    for augment in ('none', 'trivialaugment'):
        torch.manual_seed(0)
        whole = list(data.Loader(**kw, train=True, augment=augment))
        assert len(whole) == len(ranks[0][augment]) == len(ranks[1][augment]) == 4
        for (x, y), (x0, y0), (x1, y1) in zip(whole, ranks[0][augment], ranks[1][augment]):
            assert x0.shape == x1.shape == (8, 3, 32, 32) and torch.equal(torch.cat([y0, y1]), y)
            if augment == 'none':
                assert torch.equal(torch.cat([x0, x1]), x)
    whole = list(data.Loader(**dict(kw, batch_size=10)))
    interleaved = [ranks[i % 2]['eval'][i // 2] for i in range(len(whole))]
    assert len(whole) == 7 and len(ranks[0]['eval']) + len(ranks[1]['eval']) == 7
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(whole, interleaved))


def test_rank_rng_gives_each_rank_its_dropout_and_leaves_the_global_stream():
    """The data.Loader's augmentation draws from the global stream, which must stay alike on every rank; the
    model's dropout draws inside RankRNG, from a stream of the rank's own."""
    x = torch.ones(1000)
    masks = []
    for rank in (0, 1):
        torch.manual_seed(0)
        rng = techniques.RankRNG(seed=0, rank=rank, step=0, device='cpu')
        with rng:
            first = F.dropout(x, 0.5)
        with rng:
            second = F.dropout(x, 0.5)
        after = torch.rand(5)
        torch.manual_seed(0)
        assert torch.equal(after, torch.rand(5))  # as if no dropout had been drawn
        assert not torch.equal(first, second)  # the rank's own stream moves on
        masks.append(first)
    assert not torch.equal(masks[0], masks[1])


def test_stem_freeze_under_torchrun(tmp_path):
    """The ResNet stem frozen for the first epoch, then trained: DDP is rebuilt when the trained parameters change
    (otherwise it waits for the frozen stem's gradients and fails). While frozen (BatchNorm in eval mode) 2 ranks
    match 1 process; after, each rank's BatchNorm sees half the batch, so only the run's completion is compared."""
    args = ['--patch_embed=resnet18', '--stem_freeze_epochs=1', '--epochs=2', '--subset=20', '--val_size=20']  # 2 steps an epoch
    logs = []
    for ranks in (2, 1):
        code, _, err = train(args, tmp_path / str(ranks), ranks)
        assert code == 0, err
        logs.append(read_log(tmp_path / str(ranks) / 'r'))
    two, one = logs
    assert two['status'] == one['status'] == 'done' and [h['epoch'] for h in two['history']] == [0, 1]
    assert two['history'][0]['train_loss'] == pytest.approx(one['history'][0]['train_loss'], rel=1e-5)
    assert two['history'][0]['val_loss'] == pytest.approx(one['history'][0]['val_loss'], rel=1e-5)
