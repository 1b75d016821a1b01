"""Where a method is cited: the ``Post:`` and ``Paper:`` lines of its module's docstring (or of
the factory's own docstring), read from the source with ``ast``, never imported, so that
``zoo info`` and the model card stay torch-free. One place per method, not three."""
from __future__ import annotations

import ast
import functools
import importlib.util
import re
import sys
from typing import Any

_CITATION_KEYS = {"post": "post", "posts": "post", "paper": "paper", "papers": "paper"}
_KEY_LINE = re.compile(r"^([A-Z][a-z]*(?: [a-z]+)?):(?:\s+(.*))?$")  # "Post: ...", "Shape contract: ..."


def citation_lines(doc: str | None) -> dict[str, str]:
    """``{"post": ..., "paper": ...}`` from a docstring's ``Post:``/``Posts:`` and ``Paper:``/``Papers:``
    lines. A value continues on the following lines until a blank line or the next ``Key:`` line;
    its lines are joined by single spaces. Inside an open double quote (a wrapped title such as
    "Fastformer: Additive ...") a line continues the value even when it looks like ``Key:``.
    A key given twice keeps both values, joined by "; "."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in (doc or "").splitlines():
        line = raw.strip()
        match = _KEY_LINE.match(line)
        quoted = current is not None and sum(part.count('"') for part in current) % 2 == 1
        if not line:
            current = None
        elif match and not quoted:
            key = _CITATION_KEYS.get(match.group(1).lower())
            current = None if key is None else [match.group(2) or ""]
            if current is not None:
                found.setdefault(key, []).append(current)  # type: ignore[arg-type]
        elif current is not None:
            current.append(line)
    return {key: "; ".join(" ".join(p for p in parts if p) for parts in values) for key, values in found.items()}


def _module_source(module: str) -> str | None:
    loaded = sys.modules.get(module)
    path = getattr(loaded, "__file__", None)
    if path is None:
        try:
            spec = importlib.util.find_spec(module)  # imports the parent packages only (configs, no torch)
        except (ImportError, ValueError):
            return None
        path = spec.origin if spec is not None else None
    if not path or not path.endswith(".py"):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


@functools.lru_cache(maxsize=None)
def _citation_of(module: str, attr: str) -> dict[str, str]:
    source = _module_source(module)
    if source is None:
        return {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found = citation_lines(ast.get_docstring(tree))
    for node in tree.body:  # a factory's own docstring wins (one module, several methods: torch_optims)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == attr:
            found.update(citation_lines(ast.get_docstring(node)))
    return found


def factory_citation(factory: Any) -> dict[str, str]:
    """The ``post``/``paper`` a factory's source states: the docstring of the factory itself (a
    top-level function or class), else of its module. Read with ``ast``, never imported, cached."""
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
    else:
        module = getattr(factory, "__module__", None) or ""
        attr = getattr(factory, "__qualname__", "")
    if not module:
        return {}
    return _citation_of(module, attr.split(".")[0])
