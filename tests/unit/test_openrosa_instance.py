"""An OpenRosa instance of every question type, written as ODK Collect writes values (times
with milliseconds and an offset, selects as space-separated names, a geopoint's four numbers),
becomes the record ``data`` the collector would have sent, and passes the same check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from schemas.form import Form
from schemas.validate import RecordChecker
from server.domain.openrosa.instance import (
    InstanceRefused,
    _parse_plain,
    _parse_strict,
    _plainly_without_dtd,
    map_instance,
    parse_xml,
    read_instance,
    record_uuid,
)
from server.domain.openrosa.service import _xform
from tests.collect_client import CollectClient

DEFINITION = json.loads(
    (Path(__file__).resolve().parents[1] / "forms" / "all_types.json").read_text(encoding="utf-8")
)

# As Collect writes them into the instance.
ANSWERS = {
    "name": "Lò Thị Xuân",
    "started": "2026-11-20T08:00:00.000+07:00",
    "ended": "2026-11-20T08:40:12.345+07:00",
    "on_day": "2026-11-20",
    "device": "collect:abc123",
    "volunteer": "Tình nguyện viên mẫu",
    "story": "  hai dòng\nthứ hai  ",
    "digits": "0123",
    "count": "2",
    "weight": "62.5",
    "visit_day": "2026-11-19",
    "visit_time": "08:30:00.000+07:00",
    "moment": "2026-11-20T09:15:00.000+07:00",
    "ack": "OK",
    "secret": "x",
    "double": "4",
    "colour": "green",
    "fruit": "mango other",
    "fruit_other": "mít",
    "region": "north",
    "province": "namdinh",
    "where": "21.0285 105.8542 12.5 4.0",
    "photo": "1732000000000.jpg",
    "code": "8930000000001",
    "kids": [{"kid_name": "Na", "kid_age": "7"}, {"kid_name": "Tú"}],
    "visits": [{"visit_on": "2026-11-01"}],
}


def test_every_type_maps_to_what_the_collector_stores_and_passes_the_check() -> None:
    form = Form(DEFINITION)
    xform = _xform("all_types", "1", json.dumps(DEFINITION)).encode()
    filled = CollectClient.fill(xform, ANSWERS)
    instance = read_instance(filled.xml())
    assert (instance.form_id, instance.version) == ("all_types", "1")
    mapped = map_instance(form, instance.root)
    expected = {
        **ANSWERS,
        "count": 2,
        "weight": 62.5,
        "double": 4,
        "fruit": ["mango", "other"],
        # The second kid's age is the form's default, as the XForm's template carries it.
        "kids": [{"kid_name": "Na", "kid_age": 7}, {"kid_name": "Tú", "kid_age": 1}],
    }
    assert mapped.data == expected
    assert mapped.file_names == ["1732000000000.jpg"]
    mapped.media[0][0][mapped.media[0][1]] = "ab" * 32  # the photo's blob, once it arrives
    assert RecordChecker(form).check(mapped.data, today="2026-11-20") == {}


def test_what_the_form_does_not_have_stays_for_the_check_to_name() -> None:
    form = Form(DEFINITION)
    xml = (
        b'<data id="all_types" version="1"><basics><name>A</name><count>many</count>'
        b"<frob>1</frob></basics><meta><instanceID>uuid:x</instanceID></meta></data>"
    )
    mapped = map_instance(form, read_instance(xml).root)
    assert mapped.data == {"name": "A", "count": "many", "frob": "1"}
    errors = RecordChecker(form).check(mapped.data)
    assert errors["count"][0]["code"] == "not_integer"
    assert errors["frob"][0]["code"] == "unknown_field"


def test_instance_ids_become_record_ids() -> None:
    assert record_uuid("uuid:5A4FC0D2-7C1D-4F0E-9A59-3D1F7C0E2B11") == (
        "5a4fc0d2-7c1d-4f0e-9a59-3d1f7c0e2b11"
    )
    other = record_uuid("enketo:42")
    assert other == record_uuid("enketo:42") != record_uuid("enketo:43")
    assert len(other) == 36


@pytest.mark.parametrize(
    ("xml", "code"),
    [
        (b"<data", "not_xml"),
        (b'<!DOCTYPE d [<!ENTITY a "x">]><data id="f">&a;</data>', "not_xml"),
        (
            b'<!DOCTYPE d [<!ENTITY a SYSTEM "file:///etc/passwd">]><data id="f">&a;</data>',
            "not_xml",
        ),
        (b'<!DOCTYPE d SYSTEM "http://127.0.0.1:9/d.dtd"><data id="f"/>', "not_xml"),
        (
            b'<!DOCTYPE data><data id="f" version="1"><meta><instanceID>uuid:1</instanceID>'
            b"</meta></data>",
            "not_xml",
        ),
        (b'<data id="f">&undeclared;</data>', "not_xml"),
        # Encodings Python does not know, or cannot read in a parser: refused, never a 5xx.
        (b'<?xml version="1.0" encoding="no-such"?><data id="f"/>', "not_xml"),
        (b'<?xml version="1.0" encoding="shift_jis"?><data id="f"/>', "not_xml"),
        (b"\xff\xfe<\x00?\x00x\x00" + b'<?xml version="1.0" encoding="no-such"?>', "not_xml"),
        (b'<data id="f"/><data id="g"/>', "not_xml"),
        (b"<data><meta><instanceID>uuid:1</instanceID></meta></data>", "no_form_id"),
        (b'<data id="f" version="1"><meta/></data>', "no_instance_id"),
        (b'<data id="f">' + b"<a>" * 40 + b"</a>" * 40 + b"</data>", "xml_too_deep"),
        (b'<data id="f">' + b"<a/>" * 60_000 + b"</data>", "xml_too_large"),
        (b'<data id="f">' + b"a" * 2_000_001 + b"</data>", "xml_too_large"),
    ],
)
def test_unreadable_instances_are_refused_with_a_reason(xml: bytes, code: str) -> None:
    with pytest.raises(InstanceRefused) as refused:
        read_instance(xml)
    assert refused.value.code == code


def test_an_instance_reads_as_elementtree_reads_it() -> None:
    # Namespaces, attributes, text, tails and a declared encoding, as ElementTree's own parser
    # gives them: what map_instance and the rights' scrubbing walk.
    xml = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        '<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms"'
        ' id="f" version="2" orx:version="x"><!-- a comment --><name>Lê Thị Hà</name> tail'
        '<kids jr:template=""><age>3</age></kids><note><![CDATA[a < b]]></note>'
        "<orx:meta><orx:instanceID>uuid:1</orx:instanceID></orx:meta></data>"
    ).encode("iso-8859-1", errors="xmlcharrefreplace")
    ours = read_instance(xml).root
    theirs = ElementTree.fromstring(xml)
    assert ElementTree.tostring(ours) == ElementTree.tostring(theirs)
    assert ours.find("{http://openrosa.org/xforms}meta") is not None


SAMPLES = [
    b'<data id="f"><a>1</a><b x="y">t<c/>tail</b></data>',
    '<?xml version="1.0"?><d xmlns="http://www.w3.org/2002/xforms" id="f"><n>Hà</n></d>'.encode(),
    "<data id='f'><n>Lò Thị Xuân</n></data>".encode("utf-16"),
    b"\xef\xbb\xbf<data id='f'><!-- <!DOCTYPE in a comment --><n>x</n></data>",
    "<?xml version='1.0' encoding='cp1258'?><data id='f'><n>Hà</n></data>".encode("cp1258"),
]


def test_only_plainly_encoded_xml_takes_the_quick_reading() -> None:
    assert _plainly_without_dtd(b"<?xml version='1.0' encoding='UTF-8' ?><data/>")
    assert _plainly_without_dtd(b'\n<data id="f"/>')
    # UTF-7 writes "<" as "+ADw-": a DTD would not show as "<!DOCTYPE".
    utf7 = b'<?xml version="1.0" encoding="utf-7"?>+ADw-!DOCTYPE d+AD4-<data/>'
    assert not _plainly_without_dtd(utf7)
    with pytest.raises(InstanceRefused):
        parse_xml(utf7)
    assert not _plainly_without_dtd(b"<?xml version='1.0' encoding='cp1258'?><data/>")
    assert not _plainly_without_dtd("<data/>".encode("utf-16"))


@pytest.mark.parametrize("xml", SAMPLES)
def test_the_quick_and_the_strict_reading_give_the_same_tree(xml: bytes) -> None:
    # What Collect sends plainly (UTF-8, no DTD) goes to ElementTree's C parser; anything
    # else (another encoding, "<!DOCTYPE" anywhere) to expat refusing a document type.
    strict = _parse_strict(xml)
    assert ElementTree.tostring(parse_xml(xml)) == ElementTree.tostring(strict)
    if _plainly_without_dtd(xml):
        assert ElementTree.tostring(_parse_plain(xml)) == ElementTree.tostring(strict)


@pytest.mark.parametrize("reader", [_parse_plain, _parse_strict])
def test_both_readings_bound_depth_and_size(reader: Any) -> None:
    for xml, code in (
        (b'<data id="f">' + b"<a>" * 40 + b"</a>" * 40 + b"</data>", "xml_too_deep"),
        (b'<data id="f">' + b"<a/>" * 60_000 + b"</data>", "xml_too_large"),
        (b"<data><a></data>", "not_xml"),
        (b"", "not_xml"),
    ):
        with pytest.raises(InstanceRefused) as refused:
            reader(xml)
        assert refused.value.code == code


def test_the_count_pyxform_adds_for_a_repeat_count_expression_is_no_answer() -> None:
    definition = json.loads(json.dumps(DEFINITION))
    for row in definition["survey"]:
        if row.get("name") == "kids":
            row["repeat_count"] = "${count} + 1"
    xform = _xform("all_types", "1-count", json.dumps(definition))
    assert "<kids_count/>" in xform  # pyxform's own calculate beside the repeat
    filled = CollectClient.fill(xform.encode(), {**ANSWERS, "kids_count": "3"})
    data = map_instance(Form(definition), read_instance(filled.xml()).root).data
    assert "kids_count" not in data and len(data["kids"]) == 2
