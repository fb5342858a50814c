"""``python -m server.cli``: the ``gocua`` command, as tests and services start it."""

from server.cli.main import main

main()
