"""nanoGPT-style configuration: a script's globals are the config; config files (plain Python
assignments) and --name=value arguments override them, in the order given.

A script states its flags in one table (see `table`): name, default, allowed values, meaning. The table
makes the globals, the checks, --help and docs/flags.md. Unlike nanoGPT's asserts, every mistake raises
ConfigError with one line that names the flag, the value and what is allowed; train.py prints it and exits
with status 2. A flag's type is its default's; its allowed values are a choice tuple or a range string (see
parse_range), checked before anything loads.
"""
import ast
import difflib
import hashlib
import math
import os
import re
from collections import namedtuple


class ConfigError(ValueError):  # a ValueError: ViTConfig raises it for its own fields too
    pass


Flag = namedtuple('Flag', 'default allowed meaning section')


def table(*rows):
    """{name: Flag} from rows (name, default, allowed, meaning), in order; a string among the rows starts a
    section (a heading of --help and docs/flags.md). `allowed` is a choice tuple, 'bool', a numeric range
    ('>= 1', 'in [0, 1)', typed alternatives joined by 'or'; see parse_range), or for free text what it holds
    ('path'), which the code that uses it checks."""
    flags, section = {}, None
    for row in rows:
        if isinstance(row, str):
            section = row
            continue
        name, default, allowed, meaning = row
        if name in flags:
            raise ValueError(f"flag {name!r} has two rows")
        flags[name] = Flag(default, allowed, meaning, section)
    return flags


def parse_value(name, raw, default):
    """Turn the command-line string `raw` into the type of `default`, or explain why not."""
    if isinstance(default, bool):
        if raw.lower() in ('true', '1', 'yes'):
            return True
        if raw.lower() in ('false', '0', 'no'):
            return False
        raise ConfigError(f"--{name}={raw}: expected a bool (True or False)")
    if isinstance(default, str):
        if default == 'auto' and is_number(literal(raw)):  # an 'auto' flag may take a number instead (val_size)
            return literal(raw)
        return raw
    return check_type(name, literal(raw), default)


def literal(raw):
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return raw


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_type(name, value, default):
    if default == 'auto' and is_number(value):
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not type(default):
        raise ConfigError(f"--{name}={value!r}: expected {type(default).__name__} like the default {default!r}, "
                          f"got {type(value).__name__}")
    return value


def unknown(name, known):
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean --{close[0]}?" if close else "; run with --help to list the flags"
    return ConfigError(f"unknown flag --{name}{hint}")


def read_overrides(argv, defaults, file_only=()):
    """[(name, value)] from config files and --name=value arguments, types checked, in order. Names in
    `file_only` may appear in config files and are skipped there (bench.py reads a training recipe for
    its model and batch and has no use for its learning rate)."""
    out = []
    for arg in argv:
        if arg.startswith('--'):
            if '=' not in arg:
                raise ConfigError(f"{arg}: write flags as --name=value")
            name, raw = arg[2:].split('=', 1)
            if name not in defaults:
                raise unknown(name, defaults)
            out.append((name, parse_value(name, raw, defaults[name])))
        else:
            for name, value in read_config_file(arg).items():
                if name.startswith('_') or name in file_only and name not in defaults:
                    continue
                if name not in defaults:
                    raise ConfigError(f"config file {arg!r}: {unknown(name, defaults)}")
                try:
                    out.append((name, check_type(name, value, defaults[name])))
                except ConfigError as e:
                    raise ConfigError(f"config file {arg!r}: {e}") from None
    return out


def read_config_file(path):
    """{name: value} a config file assigns. It is Python, so it may compute and import (modules it imports are not
    settings); a file that is not Python, or fails, is a ConfigError naming the file and line."""
    import traceback
    import types
    try:
        with open(path, 'rb') as f:
            source = f.read().decode()
    except OSError as e:
        raise ConfigError(f"config file {path!r} cannot be read ({e.strerror}); "
                          f"arguments are config files or --name=value") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path!r} is not text (not UTF-8); a config file is Python assignments "
                          f"such as lr = 1e-3") from None
    namespace = {}
    try:
        exec(compile(source, path, 'exec'), {}, namespace)
    except SyntaxError as e:
        raise ConfigError(f"config file {path!r}, line {e.lineno}: {e.msg} (a config file is Python assignments "
                          f"such as lr = 1e-3)") from None
    except Exception as e:  # a computation or an import that fails
        line = next((fr.lineno for fr in reversed(traceback.extract_tb(e.__traceback__)) if fr.filename == path), '?')
        raise ConfigError(f"config file {path!r}, line {line}: {type(e).__name__}: {e}") from None
    return {k: v for k, v in namespace.items() if not isinstance(v, types.ModuleType)}


def configure(defaults, argv, allowed, presets, file_only=()):
    """Returns the final config dict. A `preset` applies first, then every override in order,
    so `--preset=small --depth=6` is a six-block small model. Then each flag in `allowed` is checked
    against its allowed values (see check)."""
    overrides = read_overrides(argv, defaults, file_only)
    config = dict(defaults)
    preset = dict(overrides).get('preset', defaults.get('preset', ''))
    if preset:
        if preset not in presets:
            raise ConfigError(f"--preset={preset!r} is not one of {', '.join(presets)}")
        config.update(presets[preset])
    config.update(overrides)
    for name, rule in allowed.items():
        if rule == 'path':  # the shell leaves the ~ of '--data_dir=~/data' alone: it expands only a word's first ~
            config[name] = os.path.expanduser(config[name])
        check(name, config[name], defaults[name], rule)
    return config


def check(name, value, default, allowed):
    """ConfigError unless `value` is one of a choice tuple, or a number inside a range (numbers, and the numbers an
    'auto' flag takes). 'bool' and a free-text flag's description check nothing here: the type was checked as the
    value was read, and a path is checked where it is used."""
    if isinstance(allowed, tuple):
        if str(value) not in allowed:
            raise ConfigError(f"--{name}={value!r} is not one of {', '.join(allowed)}")
    elif (is_number(default) or default == 'auto' and value != 'auto') and not in_range(value, allowed):
        raise ConfigError(f"--{name}={value!r} must be {allowed_text(default, allowed)}")


RANGE = re.compile(r"(?:(int|float) )?(?:(>=|>) (\S+)|in ([\[(])(\S+), (\S+)([\])]))")


def config_files(argv):
    """The config files a run read (a study's recipe), each with a hash and its text: the log says what ran."""
    files = [a for a in argv if not a.startswith('--')]
    texts = [open(f).read() for f in files]
    return [{'path': f, 'sha256': hashlib.sha256(t.encode()).hexdigest()[:16], 'text': t} for f, t in zip(files, texts)]


def parse_range(rule):
    """'>= 1', '> 0', 'in [0, 1)' or alternatives with types, 'int >= 0 or float in (0, 1)', as a list of
    (type name or None, low, low included, high, high included)."""
    out = []
    for part in rule.split(' or '):
        m = RANGE.fullmatch(part)
        if not m:
            raise ValueError(f"range {rule!r}: write '>= a', '> a' or 'in [a, b)' (any brackets), joined by ' or '")
        kind, op, low, left, lo, hi, right = m.groups()
        if op:
            out.append((kind, ast.literal_eval(low), op == '>=', math.inf, False))
        else:
            out.append((kind, ast.literal_eval(lo), left == '[', ast.literal_eval(hi), right == ']'))
    return out


def in_range(value, rule):
    """Whether the number `value` satisfies one alternative of `rule` (NaN never does)."""
    return is_number(value) and any(
        (kind is None or type(value).__name__ == kind) and (lo < value or lo_in and lo == value)
        and (value < hi or hi_in and value == hi) for kind, lo, lo_in, hi, hi_in in parse_range(rule))


def allowed_text(default, allowed):
    """What --help and docs/flags.md show as a flag's allowed values, and what its error message says."""
    if isinstance(allowed, tuple):
        return ', '.join(c or "''" for c in allowed)
    if is_number(default) and not allowed.startswith(('int ', 'float ')):
        return f"{type(default).__name__} {allowed}"
    return f"auto or {allowed}" if default == 'auto' else allowed


def help_text(flags, usage):
    """Every flag of a table, by section: --name=default, its allowed values, '# ' its meaning."""
    lines, section = [usage], None
    for name, f in flags.items():
        if f.section != section:
            section = f.section
            lines += ['', f"{section}:"]
        lines.append(f"  {f'--{name}={f.default!r}':<26} {allowed_text(f.default, f.allowed):<24}  # {f.meaning}")
    return '\n'.join(lines)


def markdown(flags):
    """The same table as help_text, as docs/flags.md shows it: a heading and a table per section."""
    lines, section = [], None
    for name, f in flags.items():
        if f.section != section:
            section = f.section
            lines += ['', f"### {section}", '', '| flag | default | values | meaning |', '|---|---|---|---|']
        cells = (f"`--{name}`", f"`{f.default if f.default != '' else repr('')}`", allowed_text(f.default, f.allowed),
                 f.meaning)
        lines.append('| ' + ' | '.join(c.replace('|', '\\|') for c in cells) + ' |')
    return '\n'.join(lines[1:])
