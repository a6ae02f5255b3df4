"""A run's life on disk, for train.py: its folder (locked; a new run, a resumed one, or one that replaces an old
one), the log and the checkpoints (written atomically; RNG states included), the signals and crashes that stop
it with its log kept, and how it ends: done (exit 0), diverged (exit 3) or interrupted (exit 128 + signal).
Under torchrun every rank keeps a Run and takes the same decisions; rank 0 alone writes.
"""
import fcntl
import json
import math
import os
import signal
import sys
import time

import torch

import techniques

# Flags that may change on resume: where things are, how fast they run, debugging switches. Every other flag must
# match the checkpoint's, since the log's config is the run's.
RESUME_FREE = {'device', 'dtype', 'compile', 'workers', 'log_interval', 'debug', 'check_attention', 'resume', 'overwrite',
               'out_dir', 'name', 'data_dir', 'teacher', 'stem_init'}


class RunError(Exception):
    """The run folder cannot be used as asked; train.py prints the message as bad input."""


def atomic_write(path, write):
    """Write to a temp file, fsync, then rename: a crash or kill -9 leaves the old file or the new one."""
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def open_run(out_dir, name, resume, overwrite, rank, world_size):
    """The run folder out_dir/name, checked against --resume and --overwrite before any data loads. RunError when
    it cannot be used as asked; a finished run asked to resume exits 0 here, with nothing left to do."""
    # a default name: the time and the process (torchrun: the launcher's, alike on every rank), so runs started in
    # the same second get folders of their own
    run = Run(os.path.join(out_dir, name or time.strftime('run-%Y%m%d-%H%M%S')
                           + f"-{os.getppid() if world_size > 1 else os.getpid()}"), rank, world_size)
    if resume and overwrite:
        raise RunError("--resume=True continues the run in out_dir/name, --overwrite=True replaces it; choose one")
    if rank == 0 and name:  # one process per named run folder (a default name has the pid): an exclusive lock, which
        try:                # the kernel drops when the process ends (even kill -9): a second train.py refuses, none is left stale
            os.makedirs(run.dir, exist_ok=True)
            run.lock = os.open(run.dir, os.O_RDONLY)
        except OSError as e:
            raise RunError(f"cannot create the run folder {run.dir!r} ({e.strerror}); pass another --out_dir")
        try:
            fcntl.flock(run.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"{run.dir} is in use by another train.py process; wait for it to end, or pass another --name")
    if os.path.isdir(run.log_path):
        raise RunError(f"{run.log_path} is a folder, not a train.py log; move it away")
    if os.path.exists(run.log_path):
        try:
            with open(run.log_path) as f:
                run.previous = json.load(f)
            run.previous['status'], run.previous['history']
        except (OSError, ValueError, KeyError, TypeError) as e:
            if not overwrite:
                raise RunError(f"{run.log_path} is not a readable train.py log ({type(e).__name__}: {e}); "
                               f"pass --overwrite=True to replace the run")
            run.previous = {'status': 'unreadable', 'history': []}
        if run.previous['status'] == 'done' and resume:
            print(f"{run.dir} already finished (status done); nothing to resume")
            sys.exit(0)
        if not (resume or overwrite):
            raise RunError(f"{run.dir} already holds a run (status {run.previous['status']}); pass --resume=True to "
                           f"continue it or --overwrite=True to replace it")
    if resume and not os.path.exists(run.last_path):
        raise RunError(f"--resume=True but {run.last_path} does not exist (no epoch of this run finished yet)")
    if resume and run.previous is None:
        raise RunError(f"--resume=True but {run.log_path} is missing: the history of the epochs in {run.last_path} "
                       f"would be lost; put the log back, or pass --overwrite=True to start again")
    return run


class Run:
    """The state of one run that outlives a step: its files, its log, the best epoch so far, and whether it must
    stop (a signal, a non-finite loss)."""

    def __init__(self, run_dir, rank, world_size):
        self.dir, self.rank, self.world_size = run_dir, rank, world_size
        self.log_path, self.last_path, self.best_path = (os.path.join(run_dir, f) for f in ('log.json', 'ckpt_last.pt', 'ckpt_best.pt'))
        self.lock = self.previous = self.log = None
        self.best_val_acc, self.best_epoch = -1.0, -1
        self.stop_signal = self.pending_signal = self.diverged_step = None
        self.epoch_start, self.clock = 0.0, 0.0

    def start(self, log, net, opt, ema_net, generator, config, device, resume, overwrite):
        """Resume from ckpt_last.pt, or clear what an overwritten run left; write the first log; from here on a
        crash or a signal leaves the log (and a signal the epoch's checkpoint). Returns (step, elapsed, start_epoch)."""
        self.log, self.net, self.opt, self.ema_net, self.generator = log, net, opt, ema_net, generator
        self.config, self.device = config, device
        step, elapsed, start_epoch = 0, 0.0, 0
        if resume:
            step, elapsed, start_epoch = self.load(self.last_path)
            log['history'] = [h for h in self.previous['history'] if h['epoch'] < start_epoch]
            print(f"resuming {self.dir} at epoch {start_epoch}, step {step}")
        if overwrite and self.rank == 0:  # only now that the new run is set up: stale checkpoints must never be resumed or tested
            for path in (self.log_path, self.last_path, self.best_path):
                for file in (path, path + '.tmp'):
                    if os.path.exists(file):
                        os.remove(file)
        os.makedirs(self.dir, exist_ok=True)
        try:
            self.write_log()
        except OSError as e:  # a read-only or full disk: say so before any training
            raise RunError(f"cannot write {self.log_path} ({e.strerror})")
        sys.excepthook = self.on_crash
        # Ctrl-C; SIGTERM: what kill, SLURM, PBS and Kubernetes send before SIGKILL; SIGUSR1: SLURM's --signal=USR1@secs
        # warning (its default action kills without a checkpoint); SIGHUP: the terminal closed (nohup: stays ignored)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP):
            if sig != signal.SIGHUP or signal.getsignal(sig) is not signal.SIG_IGN:
                signal.signal(sig, self.on_signal)
        return step, elapsed, start_epoch

    def write_log(self):
        if self.rank == 0:
            atomic_write(self.log_path, lambda f: f.write(json.dumps(self.log, indent=1).encode()))

    def save(self, path, epoch, step, elapsed, use_ema=False):
        """'model' holds the weights that test, teacher and plots load: the EMA's when use_ema; 'ema' is for resume."""
        if self.rank:
            return
        cuda = torch.device(self.device).type == 'cuda'
        state = {'model': (self.ema_net if use_ema else self.net).state_dict(), 'weights': 'ema' if use_ema else 'raw',
                 'ema': self.ema_net.state_dict() if self.ema_net is not None else None,
                 'optimizer': self.opt.state_dict(), 'config': self.config, 'epoch': epoch,
                 'step': step, 'elapsed': elapsed, 'best_val_acc': self.best_val_acc, 'best_epoch': self.best_epoch,
                 'rng': {'torch': torch.get_rng_state(), 'loader': self.generator.get_state(),
                         'cuda': torch.cuda.get_rng_state(self.device) if cuda else None}}
        atomic_write(path, lambda f: torch.save(state, f))

    def load(self, path):
        """Weights, optimizer, counters and RNG states from a checkpoint of this run; returns (step, elapsed, next epoch).
        RunError when the checkpoint is unreadable, does not fit the model, or was trained with other flags."""
        try:
            ckpt = torch.load(path, map_location=self.device, weights_only=False)
            config, saved = self.config, ckpt['config']  # flags the checkpoint predates are free
            mismatch = sorted(k for k in config if k in saved and k not in RESUME_FREE and saved[k] != config[k])
            if mismatch:
                raise RunError(f"{path} was trained with " + ', '.join(f"{k}={saved.get(k)!r}" for k in mismatch)
                               + " but this run asks for " + ', '.join(f"{k}={config.get(k)!r}" for k in mismatch)
                               + "; resume with the run's flags, or pass --overwrite=True to start again")
            self.net.load_state_dict(ckpt['model'])
            self.opt.load_state_dict(ckpt['optimizer'])
            if self.ema_net is not None:  # a run that had no EMA yet starts it from the current weights
                self.ema_net.load_state_dict(ckpt.get('ema') or ckpt['model'])
            self.best_val_acc, self.best_epoch = ckpt['best_val_acc'], ckpt['best_epoch']
            torch.set_rng_state(ckpt['rng']['torch'])
            self.generator.set_state(ckpt['rng']['loader'])
            if ckpt['rng']['cuda'] is not None and torch.device(self.device).type == 'cuda':
                torch.cuda.set_rng_state(ckpt['rng']['cuda'], self.device)
            return ckpt['step'], ckpt['elapsed'], ckpt['epoch'] + 1
        except RunError:
            raise
        except Exception as e:  # truncated/garbage file (UnpicklingError, zip RuntimeError), missing keys, shape mismatch
            why = ' '.join(str(e).split())  # load_state_dict lists every mismatch over many lines: keep them, on one
            raise RunError(f"cannot resume from {path}: {type(e).__name__}: {why[:400]}")

    def on_crash(self, exc_type, exc, tb):
        """Any uncaught exception after start() (loop, test, ...) leaves the log with status failed (interrupted
        on a second Ctrl-C) and the error, before Python prints the traceback: the one crash handler."""
        self.log['status'] = 'interrupted' if issubclass(exc_type, KeyboardInterrupt) else 'failed'
        self.log['error'] = f"{exc_type.__name__}: {exc}"
        self.write_log()
        sys.__excepthook__(exc_type, exc, tb)

    def on_signal(self, signum, frame):
        """Finish the current step, then write log and checkpoint; a second Ctrl-C aborts at once."""
        if self.world_size > 1:  # torchrun: the ranks stop together, at the next check (diverged); torchrun forwards
            self.pending_signal = signum  # a Ctrl-C once more, so a second one is not an abort here (torchrun kills after 30 s)
        else:
            self.stop_signal = signum
            signal.signal(signal.SIGINT, signal.default_int_handler)
        # the message comes once the abort is armed: whoever reads it may press Ctrl-C again
        if self.rank == 0:  # os.write: a print here could re-enter a write to stderr (the progress bar) and raise
            os.write(2, f"\nsignal {signum}: stopping after this step; checkpoint and log follow"
                        f"{' (Ctrl-C again aborts)' if self.world_size == 1 else ''}\n".encode())
        # Test hook: VITLAB_TEST_STOP_DELAY=seconds holds the stop here, so that a test's second Ctrl-C surely
        # arrives before the run ends by itself (a tiny run's step is over in milliseconds). Unset: no delay.
        delay = os.environ.get('VITLAB_TEST_STOP_DELAY')
        if delay:
            time.sleep(float(delay))

    def start_epoch(self):
        """The epoch's start time; the clock the ranks agree on starts again from 0."""
        self.epoch_start, self.clock = time.time(), 0.0
        return self.epoch_start

    def seconds(self):
        """Seconds into the epoch, which a time-limited run's schedule and end follow. torchrun: rank 0's at the
        last check, so that every rank sets the same LR and stops at the same step."""
        return time.time() - self.epoch_start if self.world_size == 1 else self.clock

    def diverged(self, step, loss_sum, every=None):
        """Whether the training loss went non-finite: the run then stops and end_training() keeps its log as
        diverged, at that step. Within an epoch (every=N) the loss is read every N steps, each read a host-device
        sync. Under torchrun the ranks decide there alike, from one all-reduce that also carries any rank's signal
        and rank 0's clock: a rank that stopped alone would leave the others waiting in the next gradient all-reduce.
        At the epoch's end (every=None) loss_sum already holds every rank's losses."""
        if self.diverged_step is None and (every is None or step % every == 0):
            if every is None:
                bad = not math.isfinite(loss_sum.item())
            else:
                bad, signum, self.clock = techniques.agree(loss_sum, self.pending_signal, time.time() - self.epoch_start)
                if signum:
                    self.stop_signal = signum
            if bad:
                self.diverged_step = step
        return self.diverged_step is not None

    def end_epoch(self, entry, elapsed, score, use_ema):
        """The epoch's entry into the history; ckpt_best.pt when score (the val accuracy of the weights that compete,
        the EMA's when use_ema) beats the best so far, or at every epoch without a val split (score nan); then
        the log, then ckpt_last.pt. A Ctrl-C during these writes is acted on after them: a second one (an
        abort) would otherwise leave the log an epoch ahead of ckpt_last.pt, after epoch 0 with no ckpt_last.pt at all."""
        held = []
        handler = signal.signal(signal.SIGINT, lambda signum, frame: held.append(frame))
        try:
            self.log['history'].append(entry)
            if math.isnan(score) or score > self.best_val_acc:
                self.best_val_acc, self.best_epoch = score, entry['epoch']
                self.save(self.best_path, entry['epoch'], entry['step'], elapsed, use_ema)
            self.write_log()  # log first: killed between the two, resume drops this epoch from history and redoes it (no gap)
            self.save(self.last_path, entry['epoch'], entry['step'], elapsed)
        finally:
            signal.signal(signal.SIGINT, handler)
        if held and callable(handler):
            handler(signal.SIGINT, held[0])

    def end_training(self, elapsed, peak_mem_mb):
        """The run's totals into the log. A diverged run ends here (exit 3), as does an interrupted one (exit
        128 + signal; its last checkpoint is the last finished epoch's); a run that trained to its end goes on to the test."""
        self.log['final'] = {'train_time_s': elapsed, 'peak_mem_mb': peak_mem_mb, 'best_val_acc': self.best_val_acc,
                             'best_epoch': self.best_epoch}
        if self.diverged_step is not None:
            self.log.update(status='diverged', diverged_step=self.diverged_step)
            self.write_log()
            print(f"diverged: non-finite loss at step {self.diverged_step}; log kept at {self.log_path}", file=sys.stderr)
            sys.exit(3)
        if self.stop_signal:
            self.log['status'] = 'interrupted'
            self.write_log()
            history = self.log['history']
            print(f"interrupted by signal {self.stop_signal}; resume with --name={self.log['name']} --resume=True "
                  f"(restarts epoch {len(history) and history[-1]['epoch'] + 1})", file=sys.stderr)
            sys.exit(128 + self.stop_signal)

    def done(self, test_loss, test_acc):
        """The test's numbers into the log, status done (exit 0)."""
        self.log['final'].update(test_loss=test_loss, test_acc=test_acc)
        self.log['status'] = 'done'
        self.write_log()
