"""The docs promise what the code does: the flag table is --help's, every command the README shows names a
script that exists and flags it accepts, its train.py and study commands parse, every link resolves, and
the results READMEs' tables are the ones their logs make."""
import functools
import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'plots'))


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


@functools.cache
def help_text(script='train.py'):
    """A script's --help, asked once per script (a new interpreter each: seconds)."""
    return subprocess.run([sys.executable, script, '--help'], cwd=ROOT, capture_output=True, text=True).stdout


def test_flag_table_is_train_help():
    """docs/flags.md's tables are printed from train.py's table, the one --help prints."""
    tables = subprocess.run([sys.executable, 'train.py', '--help=markdown'], cwd=ROOT, capture_output=True, text=True).stdout
    flags = re.findall(r"^\| `--(\w+)` \|", tables, re.M)
    assert len(flags) > 60 and flags == re.findall(r"^  --(\w+)=", help_text(), re.M)
    assert tables.strip() in read('docs/flags.md'), "docs/flags.md's flag tables differ from train.py's: paste the " \
                                                    "output of `python train.py --help=markdown` over them"


def readme_commands():
    """Every `python <script> ...` command in the README, from code blocks and from `...` spans in tables."""
    text = read('README.md')
    spans = re.findall(r"^```bash\n(.*?)^```", text, re.M | re.S)
    lines = [l for block in spans for l in block.split('\n')] + re.findall(r"`(python [^`]+)`", text)
    out = []
    for line in lines:
        for part in re.split(r"&&|;", line.split('#')[0]):
            words = shlex.split(part.replace('$D', ''))
            if len(words) >= 2 and words[0] == 'python' and words[1].endswith('.py'):
                out.append(words[1:])
    return out


def test_readme_commands_name_real_scripts_and_flags():
    commands = readme_commands()
    assert len(commands) > 12
    flags = set(re.findall(r"^  --(\w+)=", help_text(), re.M)) | {'help'}  # train.py --help prints the flag table
    for script, *args in commands:
        assert os.path.isfile(os.path.join(ROOT, script)), f"README runs {script}, which does not exist"
        for arg in args:
            if arg.endswith('.py') and not arg.startswith('--') and arg != 'my_config.py':
                assert os.path.isfile(os.path.join(ROOT, arg)), f"README: {script} reads {arg}, which does not exist"
        names = [a[2:].split('=')[0] for a in args if a.startswith('--')]
        if script == 'train.py':
            assert set(names) <= flags, f"README: train.py has no flag {set(names) - flags}"
        elif script.startswith(('plots/', 'data.py', 'bench.py')):
            for n in names:
                assert f"--{n}" in help_text(script) or n in flags, f"README: {script} has no option --{n}"


def parse_train_flags(args, monkeypatch):
    """train.py's config section (everything above its setup) run on args: the flags are parsed and checked
    exactly as a real run checks them, without loading data. Returns the exit code (0 = accepted)."""
    source = read('train.py')
    source = source[:re.search(r"^# -+ setup$", source, re.M).start()]
    monkeypatch.setattr(sys, 'argv', ['train.py'] + args)
    monkeypatch.chdir(ROOT)
    try:
        exec(compile(source, os.path.join(ROOT, 'train.py'), 'exec'), {'__name__': 'readme_check', '__file__': os.path.join(ROOT, 'train.py')})
    except SystemExit as e:
        return e.code
    return 0


def test_readme_train_and_study_commands_parse(tmp_path, monkeypatch):
    """Each train.py command's flags pass train.py's own checks; each study command lists its runs."""
    ran = 0
    for script, *args in readme_commands():
        if 'my_config.py' in args:
            continue
        if script == 'train.py':
            assert parse_train_flags(args, monkeypatch) == 0, f"README command `python train.py {' '.join(args)}` is refused"
        elif script.startswith('exps/'):
            r = subprocess.run([sys.executable, script] + args + ['--list', f'--out_dir={tmp_path}'], cwd=ROOT, capture_output=True, text=True)
            assert r.returncode == 0, f"README command `python {script} {' '.join(args)}` fails: {r.stderr[-600:]}"
        else:
            continue
        ran += 1
    assert ran >= 8
    assert parse_train_flags(['--epochs=-1'], monkeypatch) == 2  # the check itself can refuse


def user_docs():
    docs = ['README.md'] + [f'docs/{f}' for f in os.listdir(os.path.join(ROOT, 'docs'))]
    return docs + [f'results/{d}/README.md' for d in sorted(os.listdir(os.path.join(ROOT, 'results')))
                   if os.path.exists(os.path.join(ROOT, 'results', d, 'README.md'))]


def test_links_resolve():
    for doc in user_docs():
        base = os.path.dirname(os.path.join(ROOT, doc))
        for target in re.findall(r"\]\(([^)#]+)\)", read(doc)):
            if not target.startswith('http'):
                assert os.path.exists(os.path.join(base, target)), f"{doc} links to {target}, which does not exist"


def test_results_readme_tables_are_the_logs():
    import table
    readmes = [os.path.join(ROOT, 'results', d, 'README.md') for d in sorted(os.listdir(os.path.join(ROOT, 'results')))]
    readmes = [p for p in readmes if os.path.exists(p) and '<!-- table:' in open(p).read()]
    assert len(readmes) >= 4
    for path in readmes:
        assert table.fill_readme(path) == open(path).read(), f"{path}: a table differs from its logs; run plots/table.py --readme={path}"


def project_sources():
    """Every .py, .sh and .md file of the project (code comments and docstrings speak to users too)."""
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith('.') and d not in ('__pycache__', 'data')]
        yield from (os.path.relpath(os.path.join(folder, f), ROOT) for f in files if f.endswith(('.py', '.sh', '.md')))


def test_no_process_words_in_the_project():
    """The project speaks to users: no issue numbers, no talk of sessions or of the machine it was written on."""
    for doc in sorted(set(user_docs()) | set(project_sources())):
        for word in re.findall(r"\bissue \d+|\bsession\b|\bthis [\w -]*\bVM\b|\bthe VM\b|development\s+copy|\bscratch\*", read(doc), re.I):
            pytest.fail(f"{doc}: '{word}' speaks of how the project was made, not to its users")
