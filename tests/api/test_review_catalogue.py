"""The words the review workspace builds keys for at run time exist in both languages
(tests/unit/test_messages.py finds the literal ``t('...')`` keys; these are composed)."""

from __future__ import annotations

import re
from pathlib import Path

from schemas.messages import catalogue
from server.domain.followups import REASONS
from server.domain.personal_data import ROLES
from server.domain.records.query import OUTCOMES, REVIEW_STATES
from server.domain.records.store import DECISIONS

ROOT = Path(__file__).resolve().parents[2]


def test_every_composed_and_refusal_key_is_in_both_catalogues():
    keys = {f"state.{s}" for s in REVIEW_STATES + DECISIONS}
    keys |= {f"review.outcome_{o}" for o in OUTCOMES}
    keys |= {f"review.reason_{r}" for r in REASONS}
    keys |= {f"review.role_{r}" for r in ROLES}
    keys |= {f"review.push_{s}" for s in ("applied", "duplicate", "conflict", "rejected")}
    keys |= {f"review.resolved_{r}" for r in ("kept_current", "took_conflict", "merged")}
    for path in (ROOT / "server").rglob("*.py"):
        source = path.read_text()
        keys |= set(re.findall(r'Refused\(\s*"(review\.[a-z_]+)"', source))
        keys |= set(re.findall(r'"code": "(review\.[a-z_]+)"', source))
    assert len(keys) > 60
    for lang in ("vi", "en"):
        assert sorted(k for k in keys if k not in catalogue(lang)) == [], lang
