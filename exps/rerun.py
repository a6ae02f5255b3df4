"""Rerun step-budgeted train.py logs and require the same numbers to the last digit.

A run with a step budget (no --time_limit) is deterministic on one machine, one torch and one thread count:
its log's config is a complete command. This rebuilds that command, trains into a scratch folder and compares
every logged loss and accuracy (history and test) exactly. Use it before and after any change that should not
change what training computes (a refactor): a single differing digit fails.

    python exps/rerun.py results/cpu_300steps/augment/none_s0.json --data_dir=DIR   # a committed study log
    python exps/rerun.py tests/exact/*.json                                          # the references the tests check
    python exps/rerun.py tests/exact/*.json --write   # regenerate the references (only for a change that should
                                                      # change the numbers, said in its commit)

Teachers and stem checkpoints are rebuilt from their own logs first: a reference whose config names
`<dir>/<run>/ckpt_best.pt` finds `<run>.json` beside it and reruns that first, into the scratch folder.
Exit status 0 when every log matches, 1 when one does not (the first difference is printed).
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# what a rerun may change: where things are and how they are shown; everything else must be the log's
FREE = {'out_dir', 'name', 'resume', 'overwrite', 'data_dir', 'teacher', 'stem_init', 'log_interval',
        'debug', 'img_size', 'in_chans', 'num_classes'}  # the last three are read from the data
LOCK = threading.Lock()  # guards the table of runs started (rerun's `done`)
COMPARED = ('train_loss', 'train_acc', 'val_loss', 'val_acc', 'ema_val_loss', 'ema_val_acc', 'step', 'lr')


def command(log, out_dir, name, data_dir, checkpoints):
    """train.py's argv for a log: every flag of its config, the free ones replaced."""
    config = dict(log['config'])
    args = [f"--{k}={v}" for k, v in config.items() if k not in FREE]
    for flag in ('teacher', 'stem_init'):
        if config.get(flag):
            args.append(f"--{flag}={checkpoints[config[flag]]}")
    if data_dir:
        args.append(f"--data_dir={data_dir}")
    return [sys.executable, 'train.py', *args, f"--out_dir={out_dir}", f"--name={name}", '--overwrite=True']


def differences(old, new):
    """[(where, old, new)] for every compared number that differs (exactly)."""
    out = []
    if len(old['history']) != len(new['history']):
        out.append(('epochs', len(old['history']), len(new['history'])))
    for a, b in zip(old['history'], new['history']):
        out += [(f"epoch {a['epoch']} {k}", a[k], b.get(k)) for k in COMPARED if k in a and a[k] != b.get(k)]
    for k in ('test_loss', 'test_acc', 'best_val_acc', 'best_epoch'):
        if k in old['final'] and old['final'][k] != new['final'].get(k):
            out.append((f"final {k}", old['final'][k], new['final'].get(k)))
    return out


def rerun(path, scratch, data_dir, threads, done, slots):
    """Train the run `path` logs (after the checkpoints it needs); returns (its new log, differences). Called
    from several threads: the first caller of a path trains it, later ones wait for its result; a run holds
    one of `slots` only while train.py runs (never while it waits), so runs can wait for their teachers."""
    with LOCK:
        first = path not in done
        if first:
            done[path] = concurrent.futures.Future()
    if not first:
        return done[path].result()
    try:
        result = train_and_compare(path, scratch, data_dir, threads, done, slots)
    except BaseException as e:  # sys.exit too: the threads waiting for this run get it as well
        done[path].set_exception(e)
        raise
    done[path].set_result(result)
    return result


def train_and_compare(path, scratch, data_dir, threads, done, slots):
    with open(path) as f:
        log = json.load(f)
    checkpoints = {}
    for flag in ('teacher', 'stem_init'):
        ckpt = log['config'].get(flag)
        if ckpt:  # <dir>/<run>/ckpt_best.pt was written by the run <run>.json beside this log
            source = os.path.join(os.path.dirname(path), os.path.basename(os.path.dirname(ckpt)) + '.json')
            if not os.path.exists(source):
                sys.exit(f"{path}: --{flag}={ckpt} and no log {source} to rebuild it from")
            rerun(source, scratch, data_dir, threads, done, slots)
            checkpoints[ckpt] = os.path.join(scratch, os.path.basename(os.path.dirname(ckpt)), 'ckpt_best.pt')
    name = os.path.splitext(os.path.basename(path))[0]
    threads = threads or log['env'].get('threads')
    env = dict(os.environ, **({'OMP_NUM_THREADS': str(threads)} if threads else {}))
    cmd = command(log, scratch, name, data_dir, checkpoints)
    with slots:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{path}: train.py exited {proc.returncode}:\n{proc.stderr[-2000:]}\ncommand: {' '.join(cmd)}")
    with open(os.path.join(scratch, name, 'log.json')) as f:
        new = json.load(f)
    return new, differences(log, new)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('logs', nargs='+', help='train.py log.json files of step-budgeted runs')
    p.add_argument('--data_dir', default='', help="replaces the logs' data_dir (imagefolder and cifar runs)")
    p.add_argument('--threads', type=int, default=0, help="CPU threads (default: the log's env.threads, else torch's)")
    p.add_argument('--jobs', type=int, default=0, help="runs side by side (default: CPUs / each run's threads); "
                   "each run keeps its own thread count, so its numbers do not change")
    p.add_argument('--write', action='store_true', help='overwrite the logs with the new runs instead of comparing')
    args = p.parse_args()
    threads = []
    for path in args.logs:
        with open(path) as f:
            log = json.load(f)
        if log['config'].get('time_limit'):
            sys.exit(f"{path}: a time-budgeted run (--time_limit) is not deterministic; rerun step-budgeted logs only")
        threads.append(args.threads or log['env'].get('threads') or os.cpu_count())
    slots = threading.Semaphore(args.jobs or max(1, os.cpu_count() // max(threads)))
    bad, done = 0, {}
    with tempfile.TemporaryDirectory() as scratch, concurrent.futures.ThreadPoolExecutor(len(args.logs)) as pool:
        results = pool.map(lambda path: rerun(path, scratch, args.data_dir, args.threads, done, slots), args.logs)
        for path, (new, diff) in zip(args.logs, results):
            if args.write:
                with open(path, 'w') as f:
                    json.dump(new, f, indent=1)
                print(f"wrote {path}")
            elif diff:
                bad += 1
                print(f"DIFFERS {path}: " + '; '.join(f"{w}: {a!r} -> {b!r}" for w, a, b in diff[:5]))
            else:
                print(f"same    {path} ({len(new['history'])} epochs, test acc {new['final'].get('test_acc')})")
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
