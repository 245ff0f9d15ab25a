"""Argument conversions shared by Session, plan() and profile()."""
import os
import re

from . import _lib


def override_strings(overrides):
    """`key=value` strings from None, a dict ({"train.seed": 3}) or a list of strings."""
    if overrides is None:
        return []
    if isinstance(overrides, dict):
        return ["%s=%s" % (k, _value_text(v)) for k, v in overrides.items()]
    if isinstance(overrides, (str, bytes)):
        raise TypeError("overrides: expected a dict or a list of 'key=value' strings, got the "
                        "single string %r; wrap it in a list" % (overrides,))
    out = []
    for o in overrides:
        if not isinstance(o, str) or "=" not in o:
            raise ValueError("overrides: %r is not a 'key=value' string (e.g. 'train.seed=3')"
                             % (o,))
        out.append(o)
    return out


def _value_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"  # YAML booleans, not Python's True/False
    return str(v)


def fill_config(params, config, yaml, overrides):
    """Sets config_path / config_yaml / overrides of a mart_*_params struct. Returns what must
    stay alive until the C call returns."""
    if config is not None and yaml is not None:
        raise ValueError("pass either config (a YAML file) or yaml (YAML text), not both")
    if config is not None and not isinstance(config, (str, os.PathLike)):
        raise TypeError("config: expected the path of a job YAML file, got %s; pass YAML text "
                        "as yaml=..." % type(config).__name__)
    keep = [_lib.encode(config), _lib.encode(yaml)]
    params.config_path, params.config_yaml = keep
    arr, n = _lib.string_array(override_strings(overrides))
    keep.append(arr)
    if arr is not None:
        params.overrides = arr
    params.n_overrides = n
    return keep


_UNITS = {"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
          "k": 2**10, "kib": 2**10, "m": 2**20, "mib": 2**20, "g": 2**30, "gib": 2**30,
          "t": 2**40, "tib": 2**40}


def parse_size(value, name):
    """Bytes from an int or a size text ("80GiB", "1.5GB"); the units of MART's configs
    (common/units.h: KB/MB/GB powers of 1000, KiB/MiB/GiB and K/M/G powers of 1024)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise TypeError("%s: expected bytes (int) or a size like '80GiB', got a bool" % name)
    if isinstance(value, int):
        if value < 0:
            raise ValueError("%s: %d bytes is negative" % (name, value))
        return value
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError("%s: invalid size %r; expected bytes or a number with a unit, like "
                         "4096, 64MiB or 1.5GB" % (name, value))
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])
