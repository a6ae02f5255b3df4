"""nanoGPT-style configuration: a script's globals are the config; config files (plain Python
assignments) and --name=value arguments override them, in the order given.

Unlike nanoGPT's asserts, every mistake raises ConfigError with one line that names the flag and
what is allowed; train.py prints it and exits with status 2.
"""
import ast
import difflib


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
        return raw
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return check_type(name, value, default)


def check_type(name, value, default):
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


def read_overrides(argv, defaults):
    """[(name, value)] from config files and --name=value arguments, types checked, in order."""
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
            try:
                source = open(arg).read()
            except OSError as e:
                raise ConfigError(f"config file {arg!r} cannot be read ({e.strerror}); "
                                  f"arguments are config files or --name=value") from None
            namespace = {}
            exec(source, {}, namespace)
            for name, value in namespace.items():
                if name.startswith('_'):
                    continue
                if name not in defaults:
                    raise unknown(name, defaults)
                out.append((name, check_type(name, value, defaults[name])))
    return out


def configure(defaults, argv, choices, presets):
    """Returns the final config dict. A `preset` applies first, then every override in order,
    so `--preset=small --depth=6` is a six-block small model."""
    overrides = read_overrides(argv, defaults)
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
    return config


def help_text(defaults, choices):
    lines = ['flags (--name=value; a .py file of assignments also works):']
    for name, value in defaults.items():
        allowed = f"  [{' | '.join(choices[name])}]" if name in choices else ''
        lines.append(f"  --{name}={value!r}{allowed}")
    return '\n'.join(lines)
