"""Shared test data of the catalogue and downloader tests."""

SEED_SPEC = [
    {"distribution": None, "is_nullable": False, "name": "location", "size": 190234, "type": "STRING"},
    {
        "distribution": [
            {"count": 9, "value": 18.0},
            {"count": 45, "value": 19.1},
            {"count": 10, "value": 21.2},
        ],
        "is_nullable": True,
        "name": "value",
        "size": None,
        "type": "FLOAT",
    },
]
PRODUCT_SPEC = [
    {"distribution": None, "is_nullable": True, "name": "product", "size": None, "type": "STRING"},
    {"distribution": None, "is_nullable": False, "name": "price", "size": None, "type": "INTEGER"},
]

# id, category (8 values), price (0.00..99.99), available (bool), created (timestamps), note (nullable)
PRODUCTS_SQL = """
SELECT range AS id,
       'cat_' || (range % 8) AS category,
       round((range * 7919 % 10000) / 100.0, 2) AS price,
       range % 3 = 0 AS available,
       TIMESTAMP '2024-01-01 00:00:00' + to_seconds(range * 60) AS created,
       CASE WHEN range % 10 = 0 THEN NULL ELSE 'note ' || range END AS note
FROM range({rows})
"""
