"""Fill empty cells. params: {"value": "0", "columns": ["a"]} (no columns: every column)."""


def transform(rows, params):
    value, columns = params.get("value", ""), params.get("columns")
    for row in rows:
        yield {
            key: (value if cell is None and (not columns or key in columns) else cell)
            for key, cell in row.items()
        }
