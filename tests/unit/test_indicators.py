"""Indicators counted on a small hand-made set of households, the right answers worked by hand.

Household A (fibre) and B (no Internet) were surveyed; C nobody was home; D refused consent.
Ages are counted on the visit day, 2026-11-20 (age = 2026 - birth year).

    A1 46 self   own smartphone, VNeID level 2, bank app, paid cashless, DVCTT alone, health book
                 opens, signature yes, four skills alone, Bình dân học vụ số certified
    A2 16 self   shared smartphone, VNeID level 1, no account (so cashless is skipped by
                 relevance), DVCTT no, no health book, under 18 (no signature question),
                 skills alone except information (with help), course completed
    A3 14 proxy  only VNeID is asked from 14: none
    A4 10 proxy  nothing asked
    A5 70 absent nothing asked
    B1 60 proxy  basic phone, VNeID unknown, e-wallet and Mobile Money, not cashless, DVCTT with
                 help, health book cannot open, signature unknown, no skills, course not yet
    B2 30 self   own smartphone, VNeID level 2, every other answer missing, and no calculated
                 age stored (it must be worked out from the birth year)
"""

from __future__ import annotations

from typing import Any

import pytest

from schemas.form import Form
from schemas.indicators import (
    IndicatorError,
    IndicatorSet,
    fill_calculations,
    indicator_set,
    load_sets,
    percent,
)
from schemas.validate import RecordChecker
from tests.records import VISIT_DATE, household_data

ADULT_ANSWERS = {
    "used_internet": "yes",
    "bought_online": "no",
    "social_apps": ["zalo"],
    "needs_help": ["none"],
    "barriers": ["none"],
}


def member(name: str, birth_year: int, answered_by: str, **answers: Any) -> dict[str, Any]:
    base = {
        "member_name": name,
        "relation": "other_relative",
        "sex": "female",
        "birth_year": birth_year,
        "age": 2026 - birth_year,
        "answered_by": answered_by,
    }
    return {**base, **answers}


A = household_data(
    members=[
        member(
            "Lò Văn A Một",
            1980,
            "self",
            **ADULT_ANSWERS,
            phone_access="own_smartphone",
            vneid_level="level2",
            vneid_login="yes",
            account_type=["bank_app"],
            cashless_30d="yes",
            dvctt="alone",
            health_book="opens",
            digital_signature="yes",
            skill_apps_wifi="alone",
            skill_information="alone",
            skill_messaging="alone",
            skill_safety="alone",
            bdhvs="certified",
        ),
        member(
            "Lò Thị A Hai",
            2010,
            "self",
            **ADULT_ANSWERS,
            phone_access="shared_smartphone",
            vneid_level="level1",
            vneid_login="no",
            account_type=["none"],
            dvctt="no",
            health_book="no",
            skill_apps_wifi="alone",
            skill_information="with_help",
            skill_messaging="alone",
            skill_safety="alone",
            bdhvs="completed",
        ),
        member("Lò Văn A Ba", 2012, "proxy", vneid_level="none"),
        member("Lò Thị A Bốn", 2016, "proxy"),
        member("Lò Văn A Năm", 1956, "absent"),
    ],
    internet="fibre",
)

B_SECOND = member(
    "Quàng Văn B Hai", 1996, "self", phone_access="own_smartphone", vneid_level="level2"
)
del B_SECOND["age"]
B = household_data(
    members=[
        member(
            "Quàng Thị B Một",
            1966,
            "proxy",
            **ADULT_ANSWERS,
            phone_access="basic_only",
            vneid_level="unknown",
            account_type=["ewallet", "mobile_money"],
            cashless_30d="no",
            dvctt="with_help",
            health_book="cannot_open",
            digital_signature="unknown",
            skill_apps_wifi="cannot",
            skill_information="cannot",
            skill_messaging="cannot",
            skill_safety="cannot",
            bdhvs="not_yet",
        ),
        B_SECOND,
    ],
    internet="none",
    no_internet_reason=["cost"],
)

C = {
    "start": "2026-11-20T08:00:00+07:00",
    "age_vneid": 14,
    "age_account": 15,
    "age_adult": 18,
    "outcome": "nobody_home",
    "consent_notice_version": "2026-1",
}
D = {**C, "outcome": "completed", "consent": "no"}

# (numerator, denominator) over A and B, counted by hand from the table above.
EXPECTED = {
    "fibre_households": (1, 2),  # A fibre; B none
    "smartphone_adults": (2, 3),  # 18+ asked: A1 own, B1 basic, B2 own
    "vneid_any": (3, 5),  # 14+ asked: A1 l2, A2 l1, A3 none, B1 unknown, B2 l2
    "vneid_level2": (2, 5),  # A1, B2
    "payment_account": (2, 3),  # 15+ with an answer: A1 yes, A2 none, B1 yes (B2 missing)
    "cashless_payment": (1, 3),  # A1 yes; A2 skipped (no account); B1 no
    "online_public_services": (2, 3),  # A1 alone, A2 no, B1 with help
    "health_book": (2, 3),  # A1 opens, A2 no, B1 cannot open (still has one)
    "digital_signature": (1, 2),  # 18+ asked: A1 yes, B1 unknown
    "skill_apps_wifi": (2, 3),  # A1, A2 alone; B1 cannot
    "skill_information": (1, 3),  # A1 alone; A2 with help; B1 cannot
    "skill_messaging": (2, 3),
    "skill_safety": (2, 3),
    "skills_all_four": (1, 3),  # only A1 does all four alone
    "bdhvs": (1, 2),  # 18+ asked: A1 certified, B1 not yet (A2 is 16)
}


@pytest.fixture(scope="module")
def form() -> Form:
    return Form.load()


@pytest.fixture(scope="module")
def indicators() -> IndicatorSet:
    found = indicator_set("ho_gia_dinh_cds")
    assert found is not None
    return found


def test_the_hand_made_households_are_records_the_server_would_accept(form):
    checker = RecordChecker(form)
    for data in (A, C, D):
        assert checker.check(data, today=VISIT_DATE) == {}


def test_each_indicator_on_the_hand_made_households(form, indicators):
    totals = {ident: [0, 0] for ident in EXPECTED}
    for data in (A, B, C, D):
        facts = indicators.compute(form, data, VISIT_DATE)
        for ident, (num, den) in facts.counts.items():
            totals[ident][0] += num
            totals[ident][1] += den
    assert {k: tuple(v) for k, v in totals.items()} == EXPECTED
    assert {i.id for i in indicators.indicators} == set(EXPECTED)


def test_coverage_counts_only_surveyed_households_and_their_members(form, indicators):
    results = [indicators.compute(form, data, VISIT_DATE) for data in (A, B, C, D)]
    assert [r.surveyed for r in results] == [True, True, False, False]
    assert [r.persons for r in results] == [5, 2, 0, 0]
    assert all(r.counts[k] == (0, 0) for r in results[2:] for k in EXPECTED)


def test_a_fourteen_year_old_counts_for_vneid_only(form, indicators):
    data = household_data(
        members=[member("Em", 2012, "self", vneid_level="level1", vneid_login="yes")]
    )
    counts = indicators.compute(form, data, VISIT_DATE).counts
    assert counts["vneid_any"] == (1, 1)
    assert all(
        v == (0, 0)
        for k, v in counts.items()
        if k not in ("vneid_any", "vneid_level2", "fibre_households")
    )


def test_age_is_worked_out_from_the_birth_year_on_the_visit_day(form):
    data = household_data(members=[{"member_name": "X", "birth_year": 2011}])
    assert fill_calculations(form, data, "2026-11-20")["members"][0]["age"] == 15
    assert fill_calculations(form, data, "2025-01-02")["members"][0]["age"] == 14
    assert "age" not in data["members"][0]  # the record itself is not changed


def test_the_age_thresholds_are_the_form_settings(form, indicators):
    # A commune whose form version counts adults from 16 for accounts: the member of 15 drops.
    data = household_data(
        members=[
            member(
                "Y",
                2011,
                "self",
                **ADULT_ANSWERS,
                phone_access="none",
                vneid_level="none",
                account_type=["bank_app"],
                cashless_30d="yes",
            )
        ]
    )
    assert indicators.compute(form, data, VISIT_DATE).counts["payment_account"] == (1, 1)
    data["age_account"] = 16
    assert indicators.compute(form, data, VISIT_DATE).counts["payment_account"] == (0, 0)


def test_a_field_an_older_form_version_lacks_counts_as_not_asked(form, indicators):
    definition = {
        **form.definition,
        "survey": [r for r in form.definition["survey"] if r.get("name") != "dvctt"],
    }
    older = Form(definition)
    counts = indicators.compute(older, A, VISIT_DATE).counts
    assert counts["online_public_services"] == (0, 0)
    assert counts["health_book"] == (1, 2)  # A1 opens it, A2 has none: still counted


def test_every_indicator_file_fits_its_form(form):
    sets = {s.form_id: s for s in load_sets()}
    assert sets["ho_gia_dinh_cds"].problems(form) == []


def test_problems_name_unknown_fields_and_repeats(form):
    broken = IndicatorSet.from_dict(
        {
            "form_id": "x",
            "indicators": [
                {
                    "id": "a",
                    "unit": "person",
                    "scope": "people",
                    "label": {"vi": "A", "en": "A"},
                    "denominator": "${nope} = 1",
                    "numerator": "true()",
                }
            ],
        }
    )
    problems = broken.problems(form)
    assert any("people" in p for p in problems) and any("nope" in p for p in problems)


@pytest.mark.parametrize(
    "change",
    [
        {"unit": "cow"},
        {"denominator": "${age} >="},
        {"label": {"vi": "chỉ tiếng Việt"}},
    ],
)
def test_a_bad_indicator_file_is_refused(change):
    item = {
        "id": "a",
        "unit": "person",
        "scope": "members",
        "label": {"vi": "A", "en": "A"},
        "denominator": "true()",
        "numerator": "true()",
        **change,
    }
    with pytest.raises(IndicatorError):
        IndicatorSet.from_dict({"form_id": "x", "indicators": [item]})


def test_percent_has_one_decimal_and_none_without_a_denominator():
    assert percent(1, 3) == 33.3 and percent(2, 3) == 66.7 and percent(0, 0) is None
