"""Communes, villages, households, users and phones: the plain functions behind CLI and routes.

Writers expect to run inside the caller's write transaction, so that the change feed entry and
the row it describes commit together.
"""

from __future__ import annotations
