"""nanoGPT-style configuration: a script's globals are the config; config files (plain Python
assignments) and --name=value arguments override them, in the order given.

Unlike nanoGPT's asserts, every mistake raises ConfigError with one line that names the flag, the value
and what is allowed; train.py prints it and exits with status 2. A flag's type is its default's; its
allowed values are a choice list or a range string (see parse_range), checked before anything loads.
"""
import ast
import difflib
import hashlib
import math
import re


class ConfigError(Exception):
    pass


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


def configure(defaults, argv, choices, presets, ranges=None, file_only=()):
    """Returns the final config dict. A `preset` applies first, then every override in order,
    so `--preset=small --depth=6` is a six-block small model. Every value must then be one of its
    `choices` or inside its range in `ranges` (numbers, and the numbers an 'auto' flag takes)."""
    overrides = read_overrides(argv, defaults, file_only)
    config = dict(defaults)
    preset = dict(overrides).get('preset', defaults.get('preset', ''))
    if preset:
        if preset not in presets:
            raise ConfigError(f"--preset={preset!r} is not one of {', '.join(presets)}")
        config.update(presets[preset])
    config.update(overrides)
    for name, allowed in choices.items():
        if str(config[name]) not in allowed:
            raise ConfigError(f"--{name}={config[name]!r} is not one of {', '.join(allowed)}")
    for name, rule in (ranges or {}).items():
        value, default = config[name], defaults[name]
        checked = is_number(default) or default == 'auto' and value != 'auto'  # other strings: rule is a description
        if checked and not in_range(value, rule):
            raise ConfigError(f"--{name}={value!r} must be {allowed_text(name, defaults[name], choices, ranges)}")
    return config


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


def allowed_text(name, default, choices, ranges):
    """What --help shows as a flag's allowed values, and what its error message says."""
    if isinstance(default, bool):
        return 'bool'
    if name in choices:
        return ', '.join(c or "''" for c in choices[name])
    rule = ranges.get(name, '')
    if is_number(default) and rule and not rule.startswith(('int ', 'float ')):
        return f"{type(default).__name__} {rule}"
    return f"auto or {rule}" if default == 'auto' and rule else rule


def flag_docs(defaults, *paths):
    """{flag: (section, meaning)} from the scripts that define the flags: a flag's meaning is the comment on
    the line that assigns it its default (`name = default  # meaning`, or a dataclass field `name: type =
    default  # meaning`); its section, the last comment line above it at column 0 in the first path (train.py: `# data`,
    ...; a flag from a later path joins the section of the flag before it). The first path that defines a
    flag wins, so train.py's line for a ViT field overrides vit.py's."""
    docs = {}
    for path in paths:
        section = None
        for line in open(path):
            if re.match(r"# [^-\s]", line):
                section = line[2:].strip()
            m = re.match(r"\s*(\w+)\s*(?::[^=]*)?=\s*(.*?)\s*(?:#\s*(.*))?$", line)
            if m and m[1] in defaults and literal(m[2]) == defaults[m[1]]:
                docs.setdefault(m[1], (section if path == paths[0] else None, (m[3] or '').strip()))
    return docs


def help_text(defaults, choices, ranges, docs, usage=''):
    """Every flag, grouped by its section: --name=default, its allowed values, '# ' its meaning."""
    lines, section = [usage or 'flags (--name=value; a .py file of assignments also works):'], None
    for name, value in defaults.items():
        section_here, meaning = docs.get(name, (None, ''))
        if section_here not in (None, section):
            section = section_here
            lines += ['', f"{section}:"]
        allowed = allowed_text(name, value, choices, ranges) or '?'
        lines.append(f"  {f'--{name}={value!r}':<26} {allowed:<24}  # {meaning}")
    return '\n'.join(lines)
