"""Keep rows where a column compares to a value.

params: {"column": "age", "op": "eq|ne|lt|le|gt|ge|contains|null|notnull", "value": "30"}.
lt/le/gt/ge compare as numbers when both sides are numbers, else as text.
"""

import operator

OPS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def keep(cell, op, value):
    if op == "null":
        return cell is None
    if op == "notnull":
        return cell is not None
    if cell is None:
        return False
    if op == "contains":
        return str(value).lower() in cell.lower()
    left, right = _number(cell), _number(value)
    if left is None or right is None:
        left, right = cell, str(value)
    return OPS[op](left, right)


def transform(rows, params):
    column, op, value = params["column"], params.get("op", "eq"), params.get("value")
    if op not in OPS and op not in ("contains", "null", "notnull"):
        raise ValueError(f"unknown op {op!r}")
    for row in rows:
        if keep(row.get(column), op, value):
            yield row
