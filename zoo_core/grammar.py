"""The ``key=value`` grammar, both ways, for every user: the command line, ``--resume``,
``zoo check``, task options (``task=few_shot:ways=5,shots=1``) and the model card's
"Reproduce" line. Torch-free, and it knows no keys: ``overrides.py`` gives them meaning.

Values: ``4`` -> 4, ``0.1``/``1e-3`` -> float, ``true`` -> True, ``null``/``none`` -> None,
``[a,b]`` -> list, ``'x'`` -> 'x'; anything else stays a string. ``format_value`` is the
inverse, so ``parse_value(format_value(v)) == v`` for the values a spec holds.
"""
from __future__ import annotations

from typing import Any


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside brackets: ``a,[b,c]`` -> ['a', '[b,c]']."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch == "[") - (ch == "]")
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def parse_value(text: str) -> Any:
    s = str(text).strip()
    if s.startswith("[") and s.endswith("]"):
        inner = s[1:-1].strip()
        return [parse_value(p) for p in split_top(inner)] if inner else []
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    low = s.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none", "~"):
        return None
    for cast in (int, float):
        try:
            return cast(s)
        except ValueError:
            pass
    return s


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, str) and (parse_value(value) != value or "," in value):
        return f"'{value}'"  # a string that would read back as a number, bool, null or list
    return str(value)


def split_override(arg) -> tuple[str, str] | None:
    """``"key=value"`` -> ("key", "value") (the key stripped, the value as written); None when
    ``arg`` is not KEY=VALUE."""
    key, sep, value = str(arg).partition("=")
    key = key.strip()
    return (key, value) if sep and key else None


def parse_pairs(args: list[str]) -> tuple[list[tuple[str, Any]], list[str]]:
    """``["dim=128", "mixer=[a,b]"]`` -> ([("dim", 128), ("mixer", ["a", "b"])], problems)."""
    pairs, problems = [], []
    for arg in args:
        pair = split_override(arg)
        if pair is None:
            problems.append(f"'{arg}': not an override; write KEY=VALUE, e.g. mixer=lambda or dim=128")
            continue
        pairs.append((pair[0], parse_value(pair[1])))
    return pairs, problems


def format_pair(key: str, value: Any) -> str:
    return f"{key}={format_value(value)}"


def parse_options(text: str, what: str) -> tuple[str, dict[str, Any], list[str]]:
    """``few_shot:ways=5,shots=1`` -> ("few_shot", {"ways": 5, "shots": 1}, problems)."""
    name, _, rest = str(text).partition(":")
    options, problems = {}, []
    for item in filter(None, (p.strip() for p in split_top(rest))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"{what}={text}: write {what}=NAME:KEY=VALUE,KEY=VALUE, e.g. {what}={name}:k=10")
            continue
        options[key.strip()] = parse_value(value)
    return name.strip(), options, problems


def format_options(name: str, options: dict[str, Any]) -> str:
    if not options:
        return name
    return name + ":" + ",".join(format_pair(k, v) for k, v in options.items())
