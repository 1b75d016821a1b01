"""The sweep grammar: the override language of ``zoo train`` with several values per key.
Torch-free; shared by ``zoo compare`` (grids) and ``zoo tune`` (search spaces).

    mixer=lambda,gmlp,identity       a comma list: one run per value (tune: a categorical choice)
    seed=range(0,3)                  0, 1, 2 (Hydra's range: START, STOP exclusive, STEP)
    recipe=default,lambda_seed       named recipes are values like any other
    mixer=[lambda,gmlp],identity     brackets keep a stack together: two values
    embed.num_bits=2**14,2**16       numbers may be written as arithmetic
    choice(64,128)                   the same as 64,128
    log(1e-4,1e-1)  float(0,0.5)  float(1e-4,1e-1,log)  int(2**14,2**18,log)   tune only: ranges to search

A value that contains ``,`` but is one value (``task=few_shot:ways=5,shots=1``) stays whole:
a part ``KEY=VALUE`` after a part with ``NAME:`` options continues it; quote a value to keep it whole.
"""
from __future__ import annotations

import ast
import itertools
import operator
import re
from dataclasses import dataclass, field

from zoo_core import grammar
from zoo_core.errors import ZooError

_CALL = re.compile(r"^(range|choice|log|float|int)\((.*)\)$", re.S)
_ARITH = re.compile(r"^[\d.eE+\-*/() ]+$")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos}
SEARCH_FUNCTIONS = ("log", "float", "int")


@dataclass
class Range:
    """A tune-only numeric range: float (optionally log-scaled) or int."""

    kind: str  # "float" or "int"
    low: float
    high: float
    log: bool = False


@dataclass
class Space:
    fixed: list[str] = field(default_factory=list)  # overrides with one value, as written
    axes: list[tuple[str, list[str]]] = field(default_factory=list)  # key -> value texts (grid / choice)
    ranges: list[tuple[str, Range]] = field(default_factory=list)  # tune only

    @property
    def keys(self) -> list[str]:
        return [k for k, _ in self.axes] + [k for k, _ in self.ranges]


def split_values(text: str) -> list[str]:
    """Split on commas outside brackets, parentheses and quotes; a part holding ``=`` joins
    the part before (task options)."""
    parts, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    joined: list[str] = []
    for part in (p.strip() for p in parts):
        if joined and "=" in part and ":" not in part and ":" in joined[-1] and not part.startswith(("'", '"', "[")):
            joined[-1] += "," + part
        else:
            joined.append(part)
    return joined


def number(text: str, where: str):
    """``4``, ``1e-3`` or arithmetic such as ``2**14`` -> a number."""
    value = grammar.parse_value(text)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _ARITH.match(value):
        try:
            return _arith(ast.parse(value, mode="eval").body)
        except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
            pass
    raise ZooError(f"{where}: '{text}' is not a number; write e.g. 64, 1e-3 or 2**14")


def _arith(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _arith(node.left), _arith(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponent too large")
        return _OPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.operand))
    raise ValueError("not arithmetic")


def value_text(text: str) -> str:
    """A value as ``zoo train`` reads it: arithmetic is evaluated (``2**14`` -> ``16384``)."""
    if isinstance(grammar.parse_value(text), str) and _ARITH.match(text.strip()) and any(c in text for c in "*/+"):
        try:
            return grammar.format_value(_arith(ast.parse(text.strip(), mode="eval").body))
        except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
            return text
    return text


def _range_values(key: str, args: list[str]) -> list[str]:
    where = f"{key}=range(...)"
    if not 1 <= len(args) <= 3:
        raise ZooError(f"{where}: write range(STOP), range(START,STOP) or range(START,STOP,STEP), e.g. seed=range(0,3)")
    nums = [number(a, where) for a in args]
    start, stop, step = (0, nums[0], 1) if len(nums) == 1 else (nums[0], nums[1], nums[2] if len(nums) == 3 else 1)
    if step == 0 or (stop - start) / step <= 0:
        raise ZooError(f"{where}: range({','.join(args)}) is empty; STOP is exclusive, e.g. seed=range(0,3) is 0,1,2")
    count = int(-(-(stop - start) // step))
    return [grammar.format_value(start + i * step) for i in range(min(count, 10_000))]


def _search_range(key: str, name: str, args: list[str]) -> Range:
    where = f"{key}={name}(...)"
    log = name == "log" or (len(args) == 3 and args[2].strip() == "log")
    if len(args) != 2 + (name != "log" and len(args) == 3):
        raise ZooError(f"{where}: write {key}=log(LOW,HIGH), float(LOW,HIGH[,log]) or int(LOW,HIGH[,log]), "
                       f"e.g. train.lr=log(1e-4,1e-1)")
    low, high = number(args[0], where), number(args[1], where)
    if not low < high or (log and low <= 0):
        raise ZooError(f"{where}: need LOW < HIGH{' and LOW > 0 for a log scale' if log else ''} (got {low}, {high})")
    if name == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise ZooError(f"{where}: int(...) needs whole numbers (got {low}, {high}); use float(...) instead")
    kind = "int" if name == "int" else "float"
    return Range(kind, int(low) if kind == "int" else float(low), int(high) if kind == "int" else float(high), log)


def parse_space(args: list[str]) -> Space:
    """Sort sweep arguments into fixed overrides, grid axes and search ranges (every problem at once)."""
    space, problems, seen = Space(), [], set()
    for arg in args:
        pair = grammar.split_override(arg)
        if pair is None:
            problems.append(f"'{arg}': not an override; write KEY=VALUE or KEY=V1,V2, e.g. mixer=lambda,gmlp")
            continue
        try:
            _add(space, pair[0], pair[1].strip(), seen)
        except ZooError as e:
            problems += e.problems
    if problems:
        raise ZooError(*problems)
    return space


def _add(space: Space, key: str, value: str, seen: set) -> None:
    call = _CALL.match(value)
    parts = split_values(value) if not call else []
    if (call or len(parts) > 1) and key in seen:
        raise ZooError(f"{key}: given twice with several values; give one list, e.g. {key}=a,b,c")
    if call:
        seen.add(key)
        name, args = call.group(1), split_values(call.group(2))
        if name == "range":
            space.axes.append((key, _range_values(key, args)))
        elif name == "choice":
            space.axes.append((key, [value_text(a) for a in args if a]))
        else:
            space.ranges.append((key, _search_range(key, name, args)))
    elif len(parts) > 1:
        if any(not p for p in parts):
            raise ZooError(f"{key}={value}: an empty value in the list; write {key}=a,b with no empty item")
        seen.add(key)
        space.axes.append((key, [value_text(p) for p in parts]))
    else:
        space.fixed.append(f"{key}={value_text(value)}")


def grid(space: Space) -> list[list[tuple[str, str]]]:
    """Every combination of the axes, in the order given (the last axis varies fastest)."""
    if space.ranges:
        key, r = space.ranges[0]
        raise ZooError(f"{key}={'log' if r.log and r.kind == 'float' else r.kind}(...): a range to search; "
                       f"zoo compare runs lists (e.g. {key}=1e-3,1e-2), zoo tune searches ranges")
    keys = [k for k, _ in space.axes]
    return [list(zip(keys, combo)) for combo in itertools.product(*(v for _, v in space.axes))]
