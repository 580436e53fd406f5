"""``python -m app`` is the ``halyard`` command."""

from app.cli import main

main()
