"""A record as the office reads it (``query.sections``): every repeat instance, of any form and
at any depth, is its own block of (question, answer), its labels filled in from that instance."""

from __future__ import annotations

from schemas.form import Form
from server.domain.records.query import sections

VI = "label::Tiếng Việt (vi)"
FORM = Form(
    {
        "settings": {"form_id": "lop_long", "version": "1", "default_language": "Tiếng Việt (vi)"},
        "survey": [
            {"type": "text", "name": "head_name", VI: "Chủ hộ"},
            {"type": "begin_repeat", "name": "plots", VI: "Thửa ruộng ${plot_name}"},
            {"type": "text", "name": "plot_name", VI: "Tên thửa"},
            {"type": "integer", "name": "area", VI: "Diện tích thửa ${plot_name}"},
            {"type": "begin_repeat", "name": "crops", VI: "Vụ"},
            {"type": "text", "name": "crop", VI: "Cây trồng ở ${plot_name}"},
            {"type": "end_repeat"},
            {"type": "end_repeat"},
        ],
        "choices": [],
    }
)


def test_each_instance_and_each_nested_instance_is_a_block_of_its_own_answers():
    data = {
        "head_name": "Lan",
        "plots": [
            {"plot_name": "Đồng Trên", "area": 500, "crops": [{"crop": "Lúa"}, {"crop": "Ngô"}]},
            {"plot_name": "Bãi Sông", "crops": []},
        ],
    }
    [top] = sections(FORM, data, "vi")
    assert top["rows"] == [("Chủ hộ", "Lan")]
    [plots] = top["repeats"]
    assert plots["name"] == "plots" and plots["title"] == "Thửa ruộng "  # shared: no instance's
    first, second = plots["instances"]
    assert (first["number"], first["heading"], first["name"]) == (
        1,
        "Thửa ruộng Đồng Trên",
        "Đồng Trên",
    )
    assert first["rows"] == [("Tên thửa", "Đồng Trên"), ("Diện tích thửa Đồng Trên", "500")]
    assert second["rows"] == [("Tên thửa", "Bãi Sông")]  # what was not answered is left out
    assert second["repeats"] == []
    [crops] = first["repeats"]
    assert [c["rows"] for c in crops["instances"]] == [
        [("Cây trồng ở Đồng Trên", "Lúa")],
        [("Cây trồng ở Đồng Trên", "Ngô")],
    ]
