"""Safe integer expressions and ``{...}`` templates used by parametric topologies.

Topology files may write ``name: "m{i}"`` or ``b: "conc{(i - 1) % concentrators + 1}"``; the
expressions see the topology's parameters and the loop variables, and allow only integer
arithmetic, comparisons, ``and``/``or``/``not``, and the functions ``min``, ``max``, ``abs``,
``ceil_div``. Nothing else of Python is reachable.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Div: operator.floordiv,  # integer topology arithmetic: / means floor division
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCS: dict[str, Callable[..., int]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "ceil_div": lambda a, b: -(-a // b),
}
_TEMPLATE = re.compile(r"\{([^{}]*)\}")


class ExprError(ValueError):
    """An expression is malformed or refers to an unknown name."""


def evaluate(text: str, env: dict):
    """Evaluate an integer expression with the names in ``env``."""
    if len(text) > 200:
        raise ExprError("expression too long")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ExprError(f"invalid expression {text!r}") from None
    return _eval(tree.body, env, text)


def _eval(node, env, text):
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, bool))
        and not isinstance(node.value, float)
    ):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ExprError(f"unknown name {node.id!r} in {text!r}")
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, env, text), _eval(node.right, env, text)
        if isinstance(node.op, ast.Pow) and (abs(right) > 16 or abs(left) > 1_000_000):
            raise ExprError(f"power too large in {text!r}")
        try:
            return _BINOPS[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ExprError(f"division by zero in {text!r}") from None
        except TypeError:
            raise ExprError(f"arithmetic needs numbers in {text!r}") from None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        value = _eval(node.operand, env, text)
        if isinstance(node.op, ast.Not):
            return not value
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, env, text) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
        left = _eval(node.left, env, text)
        for op, comparator in zip(node.ops, node.comparators, strict=False):
            right = _eval(comparator, env, text)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, env, text) else node.orelse, env, text)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and not node.keywords
    ):
        args = [_eval(a, env, text) for a in node.args]
        try:
            return _FUNCS[node.func.id](*args)
        except (TypeError, ValueError, ZeroDivisionError):
            raise ExprError(f"bad arguments to {node.func.id}() in {text!r}") from None
    raise ExprError(f"unsupported expression {text!r}")


def render(template: str, env: dict) -> str:
    """Replace each ``{expr}`` in ``template`` by its value."""
    return _TEMPLATE.sub(lambda m: str(evaluate(m.group(1), env)), template)


def render_value(value, env: dict):
    """Render a YAML scalar: strings are templates; a string that is one ``{expr}`` becomes its value."""
    if not isinstance(value, str) or "{" not in value:
        return value
    whole = _TEMPLATE.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), env)
    return render(value, env)


_LOOP = re.compile(r"^\s*([A-Za-z_]\w*)\s+in\s+(.+?)\s*\.\.\s*(.+?)\s*$")


def parse_loop(text: str, env: dict) -> tuple[str, range]:
    """Parse ``"i in 1..meters"`` into ``("i", range(1, meters + 1))``."""
    match = _LOOP.match(text) if isinstance(text, str) else None
    if not match:
        raise ExprError(f"loop must look like 'i in 1..n', got {text!r}")
    var, start, stop = match.groups()
    first, last = evaluate(start, env), evaluate(stop, env)
    if not isinstance(first, int) or not isinstance(last, int):
        raise ExprError(f"loop bounds must be integers in {text!r}")
    if last - first > 100_000:
        raise ExprError(f"loop too long in {text!r}")
    return var, range(first, last + 1)
