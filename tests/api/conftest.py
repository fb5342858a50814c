"""Fixtures shared by the admin pages' tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.admin_helpers import logged_in, staff


@pytest.fixture
def admin(app: Any, db: Any) -> Any:
    """A logged-in test client of a commune admin ('quantri')."""
    staff(db, "quantri", "admin")
    return logged_in(app, "quantri")
