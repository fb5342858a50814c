"""What every command shares: the installation's data folder and its database."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from server import settings
from server.domain.db import open_data_db


def data_dir() -> Path:
    """GOCUA_DATA_DIR, or ./data: where the database, the secret key and photos live."""
    return settings.load().data_dir


def open_db() -> sqlite_utils.Database:
    """The installation's database, migrated to the current schema."""
    return open_data_db(data_dir())
