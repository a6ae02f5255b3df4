import os
import sys

# tests import the top-level modules (vit, data, ...) and run train.py from the repo root
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# One thread for this process and every train.py it starts (set before torch is imported): the suite's models are
# tiny, so a second thread buys them nothing (a 6-epoch dim-32 run on a 2-core AMD EPYC: 8.9 s and 8.8 CPU-s on
# 1 thread, 9.6 s and 11.9 CPU-s on 2), and the test workers (pytest.ini: one per core) do not oversubscribe the
# cores. A thread count the user set is kept.
os.environ.setdefault('OMP_NUM_THREADS', '1')


def pytest_configure(config):
    # the quick loop: python -m pytest -m "not slow" (the README's command, python -m pytest, runs everything)
    config.addinivalue_line('markers', 'slow: trains in subprocesses for seconds to minutes')


# The quick loop (-m "not slow") leaves out what trains for seconds or more: whole modules that train in
# subprocesses (signals, kill -9, torchrun, exact reruns, the benchmark's children), single tests elsewhere that
# train real models or compile, and the tests that read the study runs a fixture trains in subprocesses.
SLOW_MODULES = ('test_robust.py', 'test_distributed.py', 'test_exact.py', 'test_bench.py')
SLOW_TESTS = ('test_mixed_folder_trains_with_img_size_and_asks_for_it_without', 'test_synthetic_trains_with_no_other_flag',
              'test_grayscale_folder_trains_with_one_channel', 'test_config_trains_and_builds_stated_model',
              'test_learns_synthetic_data', 'test_resnet_stem_init_and_freeze', 'test_compile_model_cpu')
SLOW_FIXTURES = ('runs',)  # test_studies.py: two studies' smoke runs, 8 processes


def pytest_collection_modifyitems(config, items):
    import pytest
    for item in items:
        if (item.fspath.basename in SLOW_MODULES or item.originalname in SLOW_TESTS
                or set(SLOW_FIXTURES) & set(getattr(item, 'fixturenames', ()))):
            item.add_marker(pytest.mark.slow)


def run_train(*args, cwd=ROOT):
    """train.py args, run in this process: (returncode, stdout, stderr) as a subprocess.CompletedProcess, without
    a new interpreter importing torch (seconds per run). For runs that end on their own; signals, kill -9 and
    torchrun need a real process. What train.py changes in the process is put back: argv, cwd, signal handlers,
    sys.excepthook, and the run folder's lock (a later train.py on the same folder would find it held)."""
    import contextlib
    import io
    import runpy
    import signal
    import subprocess
    import warnings
    import lifecycle
    saved = dict(argv=sys.argv, cwd=os.getcwd(), excepthook=sys.excepthook,
                 signals={s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP)})
    runs, Run = [], lifecycle.Run

    class RecordedRun(Run):  # every run folder train.py opens, locked even when it then refuses the run
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            runs.append(self)
    lifecycle.Run = RecordedRun
    out, err = io.StringIO(), io.StringIO()
    try:
        sys.argv = ['train.py', *args]
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            # warnings as a fresh interpreter shows them (pytest would record them instead): to stderr, where tests
            # that ask for one clean line see them, each once per run
            warnings.resetwarnings()
            warnings.filterwarnings('default', category=DeprecationWarning, module='__main__')
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.filterwarnings('ignore', category=category, append=True)
            warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: sys.stderr.write(
                warnings.formatwarning(message, category, filename, lineno, line))
            try:
                runpy.run_path(os.path.join(ROOT, 'train.py'), run_name='__main__')
                code = 0
            except SystemExit as e:  # as the interpreter exits: None is 0; a message is printed, and is 1
                code = e.code or 0
                if not isinstance(code, int):
                    print(code, file=sys.stderr)
                    code = 1
            except Exception as e:  # an uncaught error: what the excepthook train.py set up does with it (the log)
                sys.excepthook(type(e), e, e.__traceback__)
                code = 1
    finally:
        lifecycle.Run = Run
        for run in runs:
            if run.lock is not None:
                os.close(run.lock)
        sys.argv, sys.excepthook = saved['argv'], saved['excepthook']
        os.chdir(saved['cwd'])
        for s, handler in saved['signals'].items():
            signal.signal(s, handler)
    return subprocess.CompletedProcess(['train.py', *args], code, out.getvalue(), err.getvalue())
