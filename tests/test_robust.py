"""Never lose a run: bad input, signals, kill -9, resume, divergence. train.py runs in subprocesses
on synthetic data with a tiny ViT; the slow part is importing torch, so independent runs go in parallel."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import lifecycle
from conftest import ROOT, run_train

PY = sys.executable
TINY = ['--dataset=synthetic', '--val_size=100', '--dim=32', '--depth=1', '--heads=2', '--batch_size=50']


def start(args, out_dir, **popen):
    return subprocess.Popen([PY, 'train.py', *TINY, f'--out_dir={out_dir}', *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def run(args, out_dir, timeout=120):
    p = start(args, out_dir)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def run_here(args, out_dir):
    """run() for runs that end on their own, in this process (conftest.run_train): no interpreter start-up."""
    r = run_train(*TINY, f'--out_dir={out_dir}', *args)
    return r.returncode, r.stdout, r.stderr


def read_log(run_dir):
    with open(os.path.join(run_dir, 'log.json')) as f:
        return json.load(f)


def wait_for_epochs(run_dir, n, proc, timeout=300):
    """Poll the (atomically written) log until n epochs are in its history."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        assert proc.poll() is None, f"train.py ended early: {proc.communicate()}"
        try:
            if len(read_log(run_dir)['history']) >= n:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise TimeoutError(run_dir)


def image_folder(root, classes_train=('a', 'b'), classes_test=('a', 'b'), n=2):
    from PIL import Image
    for split, classes in (('train', classes_train), ('test', classes_test)):
        for c in classes:
            os.makedirs(root / split / c)
            for i in range(n):
                Image.new('RGB', (8, 8), (i * 40, 0, 0)).save(root / split / c / f'{i}.png')
    return str(root)


def test_bad_input_one_line_no_traceback(tmp_path):
    """Every mistake: exit 2, exactly one stderr line 'error: ...' naming the flag/file, no traceback. train.py
    runs in this process (conftest.run_train): exits, stderr and warnings as a new interpreter has them."""
    done = tmp_path / 'done'
    assert run_here(['--epochs=1', '--name=r'], done)[0] == 0
    ckpt = torch.load(done / 'r' / 'ckpt_last.pt', weights_only=False)
    (tmp_path / 'garbage').mkdir()
    (tmp_path / 'garbage' / 'r').mkdir()
    (tmp_path / 'garbage' / 'r' / 'log.json').write_text(json.dumps({'status': 'interrupted', 'history': []}))
    (tmp_path / 'garbage' / 'r' / 'ckpt_last.pt').write_bytes(b'\x00garbage' * 100)
    trunc = tmp_path / 'trunc' / 'r'
    trunc.mkdir(parents=True)
    (trunc / 'log.json').write_text(json.dumps({'status': 'interrupted', 'history': []}))
    (trunc / 'ckpt_last.pt').write_bytes((done / 'r' / 'ckpt_last.pt').read_bytes()[:5000])  # a torn write
    shape = tmp_path / 'shape' / 'r'
    shape.mkdir(parents=True)
    (shape / 'log.json').write_text(json.dumps({'status': 'interrupted', 'history': []}))
    ckpt['model']['head.weight'] = torch.zeros(3, 3)  # same config, weights that do not fit it
    torch.save(ckpt, shape / 'ckpt_last.pt')
    other = tmp_path / 'other' / 'r'  # an interrupted run whose checkpoint is fine, resumed with another model
    other.mkdir(parents=True)
    (other / 'log.json').write_text(json.dumps({'status': 'interrupted', 'history': []}))
    (other / 'ckpt_last.pt').write_bytes((done / 'r' / 'ckpt_last.pt').read_bytes())
    noepoch = tmp_path / 'noepoch' / 'r'
    noepoch.mkdir(parents=True)
    (noepoch / 'log.json').write_text(json.dumps({'status': 'interrupted', 'history': []}))
    (tmp_path / 'badlog' / 'r').mkdir(parents=True)
    (tmp_path / 'badlog' / 'r' / 'log.json').write_text('{"status": "runn')
    folder = ['--dataset=imagefolder', '--img_size=8', '--patch_size=4']
    cases = [  # (args, out_dir, what the one line must contain)
        (['--lrr=0.1'], tmp_path, 'unknown flag --lrr; did you mean --lr?'),
        (['--lr=fast'], tmp_path, "--lr='fast': expected float"),
        (['--epochs=2.5'], tmp_path, '--epochs=2.5: expected int'),
        (['--qk_norm=maybe'], tmp_path, '--qk_norm=maybe: expected a bool'),
        (['--model=vgg'], tmp_path, "--model='vgg' is not one of vit, resnet18"),
        (['--pos_emb=sinus'], tmp_path, "--pos_emb='sinus' is not one of"),
        (['--lr'], tmp_path, '--lr: write flags as --name=value'),
        (['nofile.py'], tmp_path, "config file 'nofile.py' cannot be read"),
        (['--patch_size=5'], tmp_path, 'patch_size=5 must divide img_size=32'),
        (['--heads=0'], tmp_path, '--heads=0 must be int >= 1'),
        (['--depth=0'], tmp_path, '--depth=0 must be int >= 1'),
        (['--epochs=-1'], tmp_path, '--epochs=-1 must be int >= 1'),
        (['--batch_size=0'], tmp_path, '--batch_size=0 must be int >= 1'),
        (['--batch_size=501'], tmp_path, '--batch_size=501 is more than the 500 training images'),
        (['--heads=3'], tmp_path, 'heads=3 does not divide dim=32'),
        (['--pos_emb=rope1d', '--dim=30'], tmp_path, 'head width 15'),
        (['--pos_emb=rope2d', '--dim=36', '--heads=2'], tmp_path, 'head width 18 must be a multiple of 4'),
        (['--erasing=2.0'], tmp_path, '--erasing=2.0 must be float in [0, 1]'),
        (['--val_size=600'], tmp_path, 'val_size=600 holds out 600 of the 600 training images and leaves none'),
        (['--subset=10000'], tmp_path, 'subset=10000 must be in [1, 500]'),
        (['--distill=soft'], tmp_path, '--distill=soft needs --teacher'),
        (['--distill=soft', '--teacher=/nonexistent/ckpt.pt'], tmp_path, "checkpoint '/nonexistent/ckpt.pt' does not exist"),
        (['--distill=soft', f'--teacher={tmp_path}/garbage/r/ckpt_last.pt'], tmp_path,
         f"checkpoint '{tmp_path}/garbage/r/ckpt_last.pt' is not a readable train.py checkpoint"),
        (folder + ['--data_dir=/nonexistent'], tmp_path, "data_dir='/nonexistent' has no train/ folder"),
        (folder + [f'--data_dir={image_folder(tmp_path / "empty", n=0)}'], tmp_path, 'no images found under'),
        (folder + [f'--data_dir={image_folder(tmp_path / "mismatch", classes_test=("a", "c"))}'], tmp_path,
         "different class folders: ['b', 'c']"),
        (['--name=r'], done, f'{done}/r already holds a run (status done); pass --resume=True'),
        (['--name=r', '--resume=True', '--overwrite=True'], done, 'choose one'),
        (['--name=r', '--resume=True'], tmp_path / 'noepoch', 'ckpt_last.pt does not exist'),
        (['--name=r', '--resume=True'], tmp_path / 'garbage', f'cannot resume from {tmp_path}/garbage/r/ckpt_last.pt: UnpicklingError'),
        (['--name=r', '--resume=True'], tmp_path / 'trunc', f'cannot resume from {trunc}/ckpt_last.pt: '),
        (['--name=r', '--resume=True', '--epochs=1'], tmp_path / 'shape', 'size mismatch for head.weight'),
        (['--name=r', '--resume=True', '--epochs=1', '--dim=64'], tmp_path / 'other', 'was trained with dim=32 but this run asks for dim=64'),
        (['--name=r', '--resume=True', '--epochs=3'], tmp_path / 'badlog', 'is not a readable train.py log'),
    ]
    for args, out_dir, want in cases:  # in this process: each would be mostly `import torch` in a new one
        code, out, err = run_here(args, out_dir)
        lines = err.strip().splitlines()
        print('CASE', ' '.join(args), '->', err.strip())  # pytest -s lists every message
        assert code == 2, (args, code, err)
        assert len(lines) == 1 and lines[0].startswith('error: '), (args, err)
        assert want in lines[0], (args, want, lines[0])
        assert 'Traceback' not in err + out


def test_debug_flag_shows_traceback(tmp_path):
    code, _, err = run_here(['--heads=0', '--debug=True'], tmp_path)
    assert code != 0 and 'Traceback' in err and '--heads=0 must be int >= 1' in err


def test_overwrite_clears_old_run(tmp_path):
    assert run_here(['--epochs=2', '--name=r'], tmp_path)[0] == 0
    # the new run diverges before its first epoch ends: nothing of the old run may be left to resume or test
    code, _, err = run_here(['--epochs=2', '--name=r', '--overwrite=True', '--lr=1e6', '--warmup_epochs=0'], tmp_path)
    assert code == 3, err
    assert sorted(os.listdir(tmp_path / 'r')) == ['log.json']
    log = read_log(tmp_path / 'r')
    assert log['status'] == 'diverged' and log['history'] == [] and log['config']['lr'] == 1e6


def test_divergence_stops_with_step(tmp_path):
    """A real divergence (huge lr), not a hook: status diverged, the step recorded, exit 3, no checkpoint."""
    code, _, err = run_here(['--epochs=5', '--name=r', '--lr=1e6', '--warmup_epochs=0'], tmp_path)
    assert code == 3 and 'diverged: non-finite loss at step' in err and 'Traceback' not in err
    log = read_log(tmp_path / 'r')
    assert log['status'] == 'diverged' and 1 <= log['diverged_step'] <= 10 and log['history'] == []
    assert 'test_acc' not in log['final']


SLOW = ['--epochs=6', '--batch_size=10', '--name=r']  # 50 steps an epoch: time to signal between epochs


def history(log):
    return [(h['epoch'], h['step'], round(h['train_loss'], 5), h['val_acc']) for h in log['history']]


def test_signal_interrupts_then_resume_matches_uninterrupted(tmp_path, sig=signal.SIGTERM):
    """SIGTERM (what a scheduler sends; SIGINT, SIGUSR1 and SIGHUP take the same path, test_hardening.py) stops
    after the step, and the resumed run retraces an uninterrupted one."""
    ref = start(SLOW, tmp_path / 'ref')
    p = start(SLOW, tmp_path)
    wait_for_epochs(tmp_path / 'r', 2, p)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + sig, err
    assert 'Traceback' not in err and 'resume with --name=r --resume=True' in err
    log = read_log(tmp_path / 'r')
    assert log['status'] == 'interrupted' and 'error' not in log
    ckpt = torch.load(tmp_path / 'r' / 'ckpt_last.pt', weights_only=False)
    done = [h['epoch'] for h in log['history']]
    assert 2 <= len(done) < 6 and done == list(range(len(done)))
    assert ckpt['epoch'] == done[-1] and ckpt['step'] == log['history'][-1]['step'] == 50 * len(done)  # no partial epoch
    code, out, err = run(SLOW + ['--resume=True'], tmp_path)
    assert code == 0, err
    assert f'resuming {tmp_path}/r at epoch {len(done)}' in out
    log = read_log(tmp_path / 'r')
    assert log['status'] == 'done' and [h['epoch'] for h in log['history']] == list(range(6))
    ref.communicate(timeout=120)
    ref_log = read_log(tmp_path / 'ref' / 'r')
    # same seed, model, optimizer, schedule and RNG state: the resumed run retraces the uninterrupted one
    assert history(log) == history(ref_log)
    assert log['final']['test_acc'] == ref_log['final']['test_acc']
    # resuming a finished run is a no-op, not an error
    code, out, _ = run_here(SLOW + ['--resume=True'], tmp_path)
    assert code == 0 and 'already finished' in out


def test_second_ctrl_c_aborts_at_once_and_keeps_log(tmp_path):
    """The second Ctrl-C comes while the stop the first asked for is still pending: lifecycle's test hook holds
    that stop for 60 s, so only an abort (a KeyboardInterrupt, Python's exit by SIGINT) ends the run within 30 s."""
    p = start(SLOW, tmp_path, env=dict(os.environ, VITLAB_TEST_STOP_DELAY='60'))
    try:
        wait_for_epochs(tmp_path / 'r', 1, p)
        p.send_signal(signal.SIGINT)
        for line in p.stderr:  # the run says so once the first is handled and the abort armed
            if line.startswith('signal 2: stopping'):
                break
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    finally:
        p.kill()  # a no-op once it has ended
    assert p.returncode == -signal.SIGINT, err
    assert 'KeyboardInterrupt' in err and 'interrupted by signal' not in err  # not the clean stop's exit
    log = read_log(tmp_path / 'r')
    assert log['status'] == 'interrupted' and log['error'].startswith('KeyboardInterrupt')
    # a Ctrl-C is held off while an epoch's log and checkpoints are written: they match, even at epoch 0
    assert torch.load(tmp_path / 'r' / 'ckpt_last.pt', weights_only=False)['epoch'] == log['history'][-1]['epoch']


def test_ctrl_c_during_an_epochs_writes_waits_for_them(tmp_path, monkeypatch):
    """An abort (Ctrl-C after a first one) that comes while an epoch's checkpoints and log are written takes
    effect after them, so the log is never ahead of ckpt_last.pt. In this process: the Ctrl-C is sent from
    inside the first write."""
    run = lifecycle.Run(str(tmp_path), rank=0, world_size=1)
    run.log, written = {'history': []}, []

    def save(path, *args):
        if not written:
            os.kill(os.getpid(), signal.SIGINT)
        written.append(os.path.basename(path))
    monkeypatch.setattr(run, 'save', save)
    monkeypatch.setattr(run, 'write_log', lambda: written.append('log.json'))
    old = signal.signal(signal.SIGINT, signal.default_int_handler)  # as after a first Ctrl-C
    try:
        with pytest.raises(KeyboardInterrupt):
            run.end_epoch({'epoch': 0, 'step': 50}, 1.0, 0.5, False)
    finally:
        signal.signal(signal.SIGINT, old)
    assert written == ['ckpt_best.pt', 'log.json', 'ckpt_last.pt']


def test_kill9_leaves_log_and_checkpoint_and_resume_works(tmp_path):
    p = start(SLOW, tmp_path)
    wait_for_epochs(tmp_path / 'r', 2, p)
    time.sleep(0.3)  # somewhere inside an epoch, maybe in a checkpoint write
    p.kill()
    p.communicate(timeout=30)
    log = read_log(tmp_path / 'r')  # parses: written atomically
    assert log['status'] == 'running' and len(log['history']) >= 2
    ckpt = torch.load(tmp_path / 'r' / 'ckpt_last.pt', weights_only=False)
    last = log['history'][-1]['epoch']  # killed between log and checkpoint writes: the log is one epoch ahead
    assert last - 1 <= ckpt['epoch'] <= last
    code, _, err = run_here(SLOW, tmp_path)
    assert code == 2 and 'status running' in err  # refuses to clobber it
    code, _, err = run_here(SLOW + ['--resume=True'], tmp_path)
    assert code == 0, err
    log = read_log(tmp_path / 'r')
    assert log['status'] == 'done' and [h['epoch'] for h in log['history']] == list(range(6))


def test_crash_leaves_log_with_status_failed(tmp_path):
    """Not bad input but a bug or a full disk: the log says failed and why. Simulated by a directory in the
    way of the next checkpoint's temp file."""
    p = start(['--epochs=20', '--batch_size=10', '--name=r'], tmp_path)
    wait_for_epochs(tmp_path / 'r', 1, p)
    while True:  # the temp file may be there for a moment while a checkpoint is being written
        try:
            os.mkdir(tmp_path / 'r' / 'ckpt_last.pt.tmp')
            break
        except FileExistsError:
            time.sleep(0.01)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1 and 'IsADirectoryError' in err
    log = read_log(tmp_path / 'r')
    assert log['status'] == 'failed' and log['error'].startswith('IsADirectoryError')
    last = torch.load(tmp_path / 'r' / 'ckpt_last.pt', weights_only=False)  # the previous one is intact
    assert last['epoch'] == log['history'][-1]['epoch'] - 1  # the log of the epoch whose checkpoint failed was written
