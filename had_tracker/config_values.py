"""Type checks for configuration mappings (YAML sections, checkpoint configs) against a dataclass's fields.

Every config loader (sync, tracker, model, train, sampler, distill) runs its mapping through
:func:`check_values` before building the dataclass, so a wrong type is one line naming the field
(``sync config: rate_hz must be a number, got 'fast'``) instead of a TypeError deep inside. Numbers that
PyYAML leaves as strings (``1e7``: YAML 1.1 needs a dot and a signed exponent) are read as numbers; an int
field takes a whole float (``1e7``) but not ``2.5``; NaN is never a value; infinity only where the field's
default is infinite (e.g. ``plane_depth_m``).
"""

from __future__ import annotations

import math
import numbers
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, fields, is_dataclass
from typing import Any

from had_tracker.errors import ConfigError


def check_values(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``data`` with every value of a known field checked against (and converted to) its annotated type.

    Unknown keys are left for the caller to report. Raises ConfigError ``"{where}: {field} ..."``.
    """
    hints = typing.get_type_hints(cls)
    out = dict(data)
    for f in fields(cls):
        if f.name in out:
            allow_inf = f.default is not MISSING and isinstance(f.default, float) and math.isinf(f.default)
            out[f.name] = _coerce(out[f.name], hints[f.name], f"{where}: {f.name}", allow_inf)
    return out


def _coerce(value: Any, hint: Any, name: str, allow_inf: bool) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        return _coerce(value, options[0], name, allow_inf) if len(options) == 1 else value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    if hint is int:
        return _integer(value, name)
    if hint is float:
        return _real(value, name, allow_inf)
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{name} must be a string, got {value!r}")
    if origin in (list, tuple) and isinstance(value, (list, tuple)):
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{name} must hold {len(args)} values, got {len(value)}")
            return tuple(
                _coerce(v, a, f"{name}[{i}]", allow_inf) for i, (v, a) in enumerate(zip(value, args, strict=True))
            )
        element = args[0] if args else Any
        items = [_coerce(v, element, f"{name}[{i}]", allow_inf) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (list, tuple):
        raise ConfigError(f"{name} must be a list, got {value!r}")
    if isinstance(hint, type) and is_dataclass(hint) and not isinstance(value, (hint, Mapping)):
        raise ConfigError(f"{name} must be a mapping of {hint.__name__} fields, got {value!r}")
    return value  # Any, dataclass sections, dicts: checked by their own loaders


def _number(value: Any, name: str, what: str) -> Any:
    if isinstance(value, str):  # PyYAML reads 1e7 (no dot) as a string
        try:
            return float(value.strip())
        except ValueError:
            raise ConfigError(f"{name} must be {what}, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be {what}, got {value!r}")
    return value


def _integer(value: Any, name: str) -> int:
    value = _number(value, name, "an integer")
    if isinstance(value, numbers.Integral):
        return int(value)
    if not math.isfinite(value) or not float(value).is_integer():
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _real(value: Any, name: str, allow_inf: bool) -> float:
    value = float(_number(value, name, "a number"))
    if math.isnan(value):
        raise ConfigError(f"{name} must be a number, got nan")
    if math.isinf(value) and not allow_inf:
        raise ConfigError(f"{name} must be finite, got {value}")
    return value


__all__ = ["check_values"]
