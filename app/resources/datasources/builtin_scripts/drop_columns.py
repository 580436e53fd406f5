"""Drop columns. params: {"columns": ["a", "b"]}."""


def transform(rows, params):
    drop = set(params.get("columns", []))
    for row in rows:
        yield {key: value for key, value in row.items() if key not in drop}
