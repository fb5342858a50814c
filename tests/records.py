"""Records for tests, answered the way a volunteer would answer the default survey."""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

from schemas.form import Form

VISIT_DATE = "2026-11-20"


def phone_id(at_ms: int | None = None, random_bits: int | None = None) -> str:
    """An id as the collector makes it (pwa/js/ids.js): a UUID of version 7 whose first 48 bits
    are the time it was made, ``at_ms`` (milliseconds; now when None), the rest from
    ``random_bits`` (80 bits; fresh ones when None)."""
    ms = time.time_ns() // 1_000_000 if at_ms is None else at_ms
    bits = secrets.randbits(80) if random_bits is None else random_bits
    value = (ms << 80) | bits
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # the version
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # the variant
    return str(uuid.UUID(int=value))


def adult(
    name: str, birth_year: int, relation: str = "head", sex: str = "female"
) -> dict[str, Any]:
    return {
        "member_name": name,
        "relation": relation,
        "sex": sex,
        "birth_year": birth_year,
        "age": 2026 - birth_year,
        "answered_by": "self",
        "phone_access": "own_smartphone",
        "used_internet": "yes",
        "vneid_level": "level2",
        "vneid_login": "yes",
        "account_type": ["bank_app"],
        "cashless_30d": "yes",
        "dvctt": "with_help",
        "health_book": "opens",
        "digital_signature": "no",
        "bought_online": "yes",
        "social_apps": ["zalo"],
        "skill_apps_wifi": "alone",
        "skill_information": "with_help",
        "skill_messaging": "alone",
        "skill_safety": "with_help",
        "bdhvs": "not_yet",
        "needs_help": ["digital_signature"],
        "barriers": ["none"],
    }


def child(name: str, birth_year: int) -> dict[str, Any]:
    return {
        "member_name": name,
        "relation": "child",
        "sex": "male",
        "birth_year": birth_year,
        "age": 2026 - birth_year,
        "answered_by": "proxy",
    }


def household_data(members: list[dict[str, Any]] | None = None, **answers: Any) -> dict[str, Any]:
    members = (
        members
        if members is not None
        else [adult("Nguyễn Thị Hoa", 1980), child("Nguyễn Văn Nam", 2016)]
    )
    data = {
        "start": "2026-11-20T08:00:00+07:00",
        "age_vneid": 14,
        "age_account": 15,
        "age_adult": 18,
        "outcome": "completed",
        "consent_notice_version": "2026-1",
        "consent": "yes",
        "respondent_name": "Nguyễn Thị Hoa",
        "head_name": "Nguyễn Thị Hoa",
        "address": "Số 12, ngõ 3",
        "residents": len(members),
        "devices": ["smartphone"],
        "internet": "fibre",
        "zalo_group": "yes",
        "sells_online": "no",
        "members": members,
        "support_given": "no",
    }
    data.update(answers)
    return data


def record(
    village_id: str,
    household_id: str | None = None,
    data: dict[str, Any] | None = None,
    form: Form | None = None,
    **envelope: Any,
) -> dict[str, Any]:
    form = form or Form.load()
    item = {
        "id": phone_id(),
        "rev": phone_id(),
        "base_rev": None,
        "form_id": form.form_id,
        "form_version": form.version,
        "household_id": household_id,
        "village_id": village_id,
        "data": data if data is not None else household_data(),
        "meta": {"started_at": "2026-11-20T01:00:00Z", "visit_date": VISIT_DATE},
    }
    item.update(envelope)
    return item


def answers_as_text(db: Any) -> None:
    """Answers stored as JSON text, as every database held them before migration m009 (for a
    test that applies an earlier step again); inside the caller's transaction."""
    db.execute("UPDATE records SET data = answers(data) WHERE typeof(data) = 'blob'")
    db.execute("UPDATE revisions SET data = answers(data) WHERE typeof(data) = 'blob'")
