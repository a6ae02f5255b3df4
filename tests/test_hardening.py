"""Fault injection where user input enters: data folders, config files, run folders, several processes on one
run, the signals a cluster scheduler sends, and exps/best.py's picks. Each odd input either trains or stops with
exit 2 and one line 'error: ...' that names the culprit; nothing of a run is lost."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image

import data
from conftest import ROOT, run_train
from test_robust import SLOW, TINY, read_log, run_here, start, wait_for_epochs


def folder(root, classes=('a', 'b'), n=2):
    for split in ('train', 'test'):
        for c in classes:
            os.makedirs(root / split / c, exist_ok=True)
            for i in range(n):
                Image.new('RGB', (8, 8), (i * 40, 60 * classes.index(c), 0)).save(root / split / c / f'{i}.png')
    return root


# ----------------------------------------------------------------------------- data folders (in-process: fast)

def test_a_class_without_readable_images_is_named(tmp_path):
    for root in (folder(tmp_path / 'empty'), folder(tmp_path / 'bad')):
        os.makedirs(root / 'train' / 'c')  # a class folder with no image in train, one in test
        os.makedirs(root / 'test' / 'c')
        Image.new('RGB', (8, 8)).save(root / 'test' / 'c' / '0.png')
    with pytest.raises(data.DataError, match=r"class folder\(s\) train/c/ in .* hold no readable image"):
        data.load_dataset('imagefolder', str(tmp_path / 'empty'))
    bad = tmp_path / 'bad' / 'train' / 'c'
    (bad / 'x.jpg').write_bytes(b'')  # zero bytes
    (bad / 'y.png').write_bytes(b'not a png')
    with pytest.raises(data.DataError, match=r"train/c/ in .* hold no readable image"):
        data.load_dataset('imagefolder', str(tmp_path / 'bad'))


def test_odd_but_valid_folders_load(tmp_path):
    """Unicode, spaces and a name that is not UTF-8; a symlink loop (each image once); files that are not images;
    a zero-byte image (skipped and listed); a test split with a class absent (its folder empty)."""
    root = folder(tmp_path, classes=('chat noir', 'été'))
    Image.new('RGB', (8, 8)).save(root / 'train' / 'été' / 'ünï cödé 2.png')
    Image.new('RGB', (8, 8)).save(os.fsencode(root / 'train' / 'été') + b'/latin1-\xe9.png')
    os.symlink('..', root / 'train' / 'été' / 'loop')  # train/été/loop/loop/... is train/été again
    (root / 'train' / 'chat noir' / 'notes.txt').write_text('not an image')
    (root / 'train' / 'chat noir' / 'empty.jpg').write_bytes(b'')
    for f in os.listdir(root / 'test' / 'été'):
        os.remove(root / 'test' / 'été' / f)
    ds = data.load_dataset('imagefolder', str(root))
    assert ds['classes'] == ['chat noir', 'été'] and ds['train_y'].tolist() == [0, 0, 1, 1, 1, 1]
    assert ds['test_y'].tolist() == [0, 0] and len(ds['skipped']) == 1 and 'empty.jpg' in ds['skipped'][0]
    assert data.load_dataset('imagefolder', str(root))['train_y'].tolist() == [0, 0, 1, 1, 1, 1]  # from the cache


def test_a_channel_that_never_varies_is_only_centred():
    """Images whose blue channel is 0 everywhere (the folder() above): std 0 would make every pixel nan."""
    x = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    x[:, 2] = 0
    mean, std = data.channel_stats(x)
    assert mean[2] == 0 and std[2] == 1 and 0.2 < std[0] < 0.4 and 0.2 < std[1] < 0.4


def test_a_tilde_path_is_the_home_folder(tmp_path, monkeypatch):
    """The shell expands only a word's first ~, so '--data_dir=~/imgs' arrives as it is written: train.py and the
    studies read it as the home folder; a study whose data_dir holds no data stops with one line, as train.py does."""
    monkeypatch.setenv('HOME', str(tmp_path))
    folder(tmp_path / 'imgs', n=3)
    p = run_train('--dataset=imagefolder', '--data_dir=~/imgs', '--out_dir=~/runs', '--name=r', '--val_size=2',
                  '--dim=32', '--depth=1', '--heads=2', '--batch_size=2', '--epochs=1')
    assert p.returncode == 0, p.stderr
    assert read_log(tmp_path / 'runs' / 'r')['config']['data_dir'] == str(tmp_path / 'imgs')
    r = subprocess.run([sys.executable, 'exps/long.py', '--dataset=imagefolder', '--data_dir=~/nothing', '--out_dir=~/runs'],
                       cwd=ROOT, capture_output=True, text=True, env={**os.environ, 'HOME': str(tmp_path)})
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"error: exps/long.py: data_dir={str(tmp_path / 'nothing')!r} has no train/ folder; expected train/<class>/<image> "
        "(the shared CIFAR-10 copy unpacks to .../cifar10, see README)"], r.stderr


# ----------------------------------------------------------------------------- config files, run folders

def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return str(path)


@pytest.mark.slow
def test_bad_configs_and_run_folders_one_line(tmp_path):
    c = tmp_path / 'configs'
    done = tmp_path / 'done'
    assert run_train(*TINY, f'--out_dir={done}', '--epochs=1', '--name=r').returncode == 0
    nolog = tmp_path / 'nolog' / 'r'
    nolog.mkdir(parents=True)
    (nolog / 'ckpt_last.pt').write_bytes((done / 'r' / 'ckpt_last.pt').read_bytes())
    (tmp_path / 'dirlog' / 'r' / 'log.json').mkdir(parents=True)
    other = tmp_path / 'other' / 'r'  # an interrupted run, resumed with other flags
    other.mkdir(parents=True)
    (other / 'log.json').write_text(json.dumps({'status': 'interrupted', 'history': []}))
    (other / 'ckpt_last.pt').write_bytes((done / 'r' / 'ckpt_last.pt').read_bytes())
    write(tmp_path / 'afile', 'x')
    cases = [  # (args, out_dir, what the one line must contain)
        ([write(c / 'syntax.py', 'lr = 1e-3\ndepth = = 2\n')], tmp_path, "config file '%s', line 2: invalid syntax" % (c / 'syntax.py')),
        ([write(c / 'unknown.py', 'lrr = 0.1\n')], tmp_path, "config file '%s': unknown flag --lrr; did you mean --lr?" % (c / 'unknown.py')),
        ([write(c / 'type.py', 'lr = "fast"\n')], tmp_path, "config file '%s': --lr='fast': expected float" % (c / 'type.py')),
        ([write(c / 'raises.py', 'import math\nlr = 1 / 0\n')], tmp_path, "raises.py', line 2: ZeroDivisionError: division by zero"),
        ([write(c / 'cfg.json', '{"lr": 0.001, "ema": true}')], tmp_path, "cfg.json', line 1: NameError: name 'true' is not defined"),
        ([write(c / 'binary.pt', b'\x80\x02\xff\xfe')], tmp_path, "binary.pt' is not text (not UTF-8)"),
        ([str(c)], tmp_path, f"config file '{c}' cannot be read (Is a directory)"),
        (['--name=r'], tmp_path / 'afile' / 'sub', f"cannot create the run folder '{tmp_path}/afile/sub/r' (Not a directory)"),
        (['--name=r', '--resume=True'], tmp_path / 'dirlog', 'dirlog/r/log.json is a folder, not a train.py log'),
        (['--name=r', '--resume=True'], tmp_path / 'nolog', 'nolog/r/log.json is missing: the history of the epochs in'),
        (['--name=r', '--resume=True', '--epochs=1', '--lr=0.01', '--seed=3'], tmp_path / 'other',
         "was trained with lr=0.001, seed=0 but this run asks for lr=0.01, seed=3; resume with the run's flags"),
    ]
    for args, out_dir, want in cases:  # in this process: each would be mostly `import torch` in a new one
        p = run_train(*TINY, f'--out_dir={out_dir}', *args)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith('error: '), (args, p.returncode, p.stderr)
        assert want in lines[0], (args, want, lines[0])
    assert read_log(done / 'r')['status'] == 'done'  # the refused resume left the finished run alone


@pytest.mark.slow
def test_a_config_that_imports_and_computes_trains(tmp_path):
    cfg = write(tmp_path / 'computed.py', 'import math\nfrom os import path\nwidth = 2 ** 5\ndim = width\n'
                'lr = math.sqrt(1e-6)\n_private = 1\n')
    p = run_train(*TINY, f'--out_dir={tmp_path}', cfg, '--name=r', '--max_steps=2', '--epochs=1')
    assert p.returncode == 2 and "unknown flag --width" in p.stderr  # a helper name must start with _ ...
    write(tmp_path / 'computed.py', 'import math\nfrom os import path\n_width = 2 ** 5\ndim = _width\nlr = math.sqrt(1e-6)\n')
    p = run_train(*TINY, f'--out_dir={tmp_path}', cfg, '--name=r', '--max_steps=2', '--epochs=1')
    assert p.returncode == 0, p.stderr  # ... and modules it imports are not settings
    config = read_log(tmp_path / 'r')['config']
    assert config['dim'] == 32 and config['lr'] == 1e-3


# ----------------------------------------------------------------------------- several processes, signals

@pytest.mark.slow
def test_a_second_process_on_a_running_run_refuses(tmp_path):
    """Started at once or later, with or without --resume: one train.py per run folder (an flock the kernel
    drops when the holder dies, so kill -9 leaves no stale lock)."""
    procs = [start(SLOW, tmp_path), start(SLOW, tmp_path)]  # at once: one gets the run, the other refuses
    while all(p.poll() is None for p in procs):
        time.sleep(0.05)
    loser = next(p for p in procs if p.poll() is not None)
    runner = next(p for p in procs if p is not loser)
    _, err = loser.communicate()
    assert loser.returncode == 2 and f'{tmp_path}/r is in use by another train.py process' in err, err
    wait_for_epochs(tmp_path / 'r', 1, runner)
    late = start(SLOW + ['--resume=True'], tmp_path)  # later, resuming a live run: would mix two histories
    _, err = late.communicate(timeout=120)
    assert late.returncode == 2 and f'{tmp_path}/r is in use by another train.py process' in err, err
    runner.kill()  # kill -9: the lock goes with the process
    runner.communicate(timeout=30)
    code, _, err = run_here(SLOW + ['--resume=True'], tmp_path)
    assert code == 0, err
    assert [h['epoch'] for h in read_log(tmp_path / 'r')['history']] == list(range(6))


def hangup(disposition):
    """Start a child with SIGHUP set as a terminal (SIG_DFL) or nohup (SIG_IGN) would leave it, whatever this
    test runner inherited: under nohup every child would otherwise ignore SIGHUP."""
    return dict(preexec_fn=lambda: signal.signal(signal.SIGHUP, disposition))


@pytest.mark.slow
def test_ctrl_c_and_scheduler_signals_checkpoint(tmp_path):
    """Ctrl-C, SLURM's --signal=USR1@secs warning and a closed terminal (SIGHUP) stop like SIGTERM: the epoch's
    checkpoint and log, status interrupted, exit 128 + signal; one of them then resumes to the end (that a
    resumed run retraces an uninterrupted one is test_robust.py's SIGTERM test). A run started under nohup
    keeps ignoring SIGHUP and trains to the end."""
    sigs = (signal.SIGINT, signal.SIGUSR1, signal.SIGHUP)
    procs = [start(SLOW, tmp_path / sig.name, **hangup(signal.SIG_DFL)) for sig in sigs]  # side by side: each is
    nohup = start(SLOW, tmp_path / 'nohup', **hangup(signal.SIG_IGN))  # signalled after its first of 6 epochs
    for sig, p, name in [(sig, p, sig.name) for sig, p in zip(sigs, procs)] + [(signal.SIGHUP, nohup, 'nohup')]:
        wait_for_epochs(tmp_path / name / 'r', 1, p)
        p.send_signal(sig)
    for sig, p in zip(sigs, procs):
        _, err = p.communicate(timeout=60)
        assert p.returncode == 128 + sig and f'signal {sig}: stopping after this step' in err, err
        log = read_log(tmp_path / sig.name / 'r')
        assert log['status'] == 'interrupted' and 'error' not in log
        assert torch.load(tmp_path / sig.name / 'r' / 'ckpt_last.pt', weights_only=False)['epoch'] == log['history'][-1]['epoch']
    _, err = nohup.communicate(timeout=120)
    assert nohup.returncode == 0 and 'stopping' not in err, err
    assert [h['epoch'] for h in read_log(tmp_path / 'nohup' / 'r')['history']] == list(range(6))
    code, _, err = run_here(SLOW + ['--resume=True'], tmp_path / sigs[-1].name)
    assert code == 0 and read_log(tmp_path / sigs[-1].name / 'r')['status'] == 'done', err


# ----------------------------------------------------------------------------- exps/best.py picks from your runs

def best(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'exps', 'best.py'), '--smoke', '--list', *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_best_picks_from_your_own_runs_by_default(tmp_path):
    from test_slides import fake_log
    (tmp_path / 'runs' / 'ffn').mkdir(parents=True)
    for variant, val in (('gelu', 0.5), ('swiglu', 0.6)):
        log = fake_log(f'{variant}_s0', dict(ffn=variant), 0, val, 0.5)
        (tmp_path / 'runs' / 'ffn' / f'{variant}_s0.json').write_text(json.dumps(log))
    r = best(f'--out_dir={tmp_path}/runs')  # where the studies wrote: no --pick_from needed
    assert r.returncode == 0 and 'ffn: swiglu (val 60.00%' in r.stdout and '--ffn=swiglu' in r.stdout, r.stderr
    r = best(f'--out_dir={tmp_path}/empty')  # no study run yet: the literature's, and it says so
    assert r.returncode == 0 and 'note: no finished technique study under' in r.stderr and '--pos_emb=rope2d' in r.stdout
    r = best(f'--pick_from={tmp_path}/empty')  # asked for picks where there are none: a wrong folder
    assert r.returncode == 2 and r.stderr.startswith(f'error: --pick_from={tmp_path}/empty: no finished runs'), r.stderr
