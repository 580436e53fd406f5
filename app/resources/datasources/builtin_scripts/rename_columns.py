"""Rename columns. params: {"mapping": {"old": "new"}}."""


def transform(rows, params):
    mapping = params.get("mapping", {})
    for row in rows:
        yield {mapping.get(key, key): value for key, value in row.items()}
