"""Ground-truth readers on small hand-written files in each corpus format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pdf_assets.core.types import Box
from pdf_assets.evaluation import groundtruth as gt
from pdf_assets.evaluation.golden import golden_text
from pdf_assets.evaluation.outputs import DocOutput, RegionOut

DOCLING = {
    "schema_name": "DoclingDocument",
    "pages": {"1": {"size": {"width": 600, "height": 800}, "page_no": 1}},
    "body": {"children": [{"$ref": "#/texts/0"}, {"$ref": "#/groups/0"}, {"$ref": "#/tables/0"}]},
    "groups": [{"self_ref": "#/groups/0", "children": [{"$ref": "#/texts/1"}, {"$ref": "#/texts/2"}]}],
    "texts": [
        {"self_ref": "#/texts/0", "label": "page_header", "content_layer": "furniture", "text": "Header",
         "prov": [{"page_no": 1, "bbox": {"l": 10, "t": 790, "r": 100, "b": 780, "coord_origin": "BOTTOMLEFT"}}]},
        {"self_ref": "#/texts/1", "label": "list_item", "content_layer": "body", "text": "first",
         "prov": [{"page_no": 1, "bbox": {"l": 10, "t": 700, "r": 100, "b": 690, "coord_origin": "BOTTOMLEFT"}}]},
        {"self_ref": "#/texts/2", "label": "list_item", "content_layer": "body", "text": "second",
         "prov": [{"page_no": 1, "bbox": {"l": 10, "t": 680, "r": 100, "b": 670, "coord_origin": "BOTTOMLEFT"}}]},
    ],
    "tables": [
        {"self_ref": "#/tables/0", "label": "table", "children": [],
         "prov": [{"page_no": 1, "bbox": {"l": 10, "t": 600, "r": 300, "b": 500, "coord_origin": "BOTTOMLEFT"}}],
         "data": {"num_rows": 2, "num_cols": 2, "table_cells": [
             {"text": "Head", "start_row_offset_idx": 0, "end_row_offset_idx": 1,
              "start_col_offset_idx": 0, "end_col_offset_idx": 2},
             {"text": "a", "start_row_offset_idx": 1, "end_row_offset_idx": 2,
              "start_col_offset_idx": 0, "end_col_offset_idx": 1}]}}
    ],
    "pictures": [],
}  # fmt: skip


def test_docling_reading_order_skips_furniture_for_text() -> None:
    assert gt.docling_page_texts(DOCLING) == {0: ["first", "second"]}


def test_docling_layout_converts_bottom_left_boxes_and_maps_labels() -> None:
    truth = gt.docling_layout(DOCLING)
    assert [(b.kind, b.label) for b in truth.boxes] == [
        ("text", "page_header"), ("text", "list_item"), ("text", "list_item"), ("table", "table")
    ]  # fmt: skip
    assert truth.boxes[1].box == Box(10, 100, 100, 110)
    assert truth.boxes[3].box == Box(10, 200, 300, 300)


def test_docling_tables_keep_spans() -> None:
    (table,) = gt.docling_tables(DOCLING)
    assert (table.n_rows, table.n_cols, table.spans_known) == (2, 2, True)
    assert table.cells[0] == gt.Cell(0, 0, "Head", 1, 2)


ICDAR_STR = """<?xml version="1.0"?><document><table id='1'><region page='2' id='1'>
<cell id='1' start-row='1' start-col='1' end-row='2'><bounding-box x1='1' y1='2' x2='3' y2='4'/><content>Cycle
Name</content></cell>
<cell id='2' start-row='1' start-col='2' end-col='3'><content>Savings</content></cell>
<cell id='3' start-row='2' start-col='2'><content>a</content></cell>
</region></table></document>"""

ICDAR_REG = """<?xml version="1.0"?><document><table id='1'><region id='1' page='2'>
<bounding-box x1='100' y1='500' x2='300' y2='700'/></region></table></document>"""


def test_icdar_structure_is_normalised_to_zero_based_inclusive_spans(tmp_path: Path) -> None:
    path = tmp_path / "x-str.xml"
    path.write_text(ICDAR_STR)
    (table,) = gt.icdar_tables(path)
    assert (table.page, table.n_rows, table.n_cols) == (1, 2, 3)
    assert table.cells[0] == gt.Cell(0, 0, "Cycle\nName", 2, 1)
    assert table.cells[1] == gt.Cell(0, 1, "Savings", 1, 2)


def test_icdar_regions_flip_to_top_left(tmp_path: Path) -> None:
    path = tmp_path / "x-reg.xml"
    path.write_text(ICDAR_REG)
    (box,) = gt.icdar_regions(path, {1: 792.0}).boxes
    assert (box.page, box.kind, box.box) == (1, "table", Box(100, 92, 300, 292))


def test_csv_table_and_chart_data(tmp_path: Path) -> None:
    table_csv = tmp_path / "t.table1.csv"
    table_csv.write_text('State,Literacy,\n,"Read &\nWrite",College\n')
    table = gt.read_csv_table(table_csv, page=0)
    assert (table.n_rows, table.n_cols) == (2, 3)
    assert {(c.row, c.col, c.text) for c in table.cells} == {(0, 0, "State"), (0, 1, "Literacy"),
                                                             (1, 1, "Read &\nWrite"), (1, 2, "College")}  # fmt: skip
    chart_csv = tmp_path / "c.chartdata.csv"
    chart_csv.write_text("benchmark,metric,A,B\nMMLU,EM,75.9,66.2\n")
    assert gt.read_chart_triples(chart_csv) == [("A", "MMLU", 75.9), ("B", "MMLU", 66.2)]


def test_olmocr_rules(tmp_path: Path) -> None:
    path = tmp_path / "x.olmocr_bench.jsonl"
    rows = [
        {"pdf": "x.pdf", "page": 1, "id": "a", "type": "present", "text": "Hi"},
        {"pdf": "x.pdf", "page": 2, "id": "b", "type": "order", "before": "A", "after": "B", "max_diffs": 1},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    first, second = gt.read_olmocr_rules(path)
    assert (first.page, first.type, first.text) == (0, "present", "Hi")
    assert (second.page, second.before, second.after, second.max_diffs) == (1, "A", "B", 1)


@pytest.mark.parametrize("value", ["75.9", " 75.9% ", "75.90"])
def test_parse_number(value: str) -> None:
    assert gt.parse_number(value) == 75.9


def test_golden_form_is_rounded_relative_and_stable() -> None:
    table = gt.Table(0, 1, 2, (gt.Cell(0, 0, "a", 1, 2),))
    doc = DocOutput(
        name="x.pdf",
        status="error",
        error="cannot open /tmp/run-123/inbox/corpus/x.pdf: broken",
        pages=[(612.04, 791.96)],
        page_text_chars=[0],
        regions=[RegionOut(0, 0, "table", "table", Box(1.04, -0.01, 10.06, 20.0), table=table)],
    )
    text = golden_text(doc)
    data = json.loads(text)
    assert data["error"] == "cannot open x.pdf: broken"
    assert data["pages"] == [{"width": 612.0, "height": 792.0, "text_layer": False}]
    assert data["regions"][0]["box"] == [1.0, 0.0, 10.1, 20.0]
    assert data["regions"][0]["table"] == {"n_rows": 1, "n_cols": 2, "grid": [["a", ""]], "spans": [[0, 0, 1, 2]]}
    assert golden_text(doc) == text


def test_text_inside_a_picture_is_neither_page_text_nor_a_layout_box() -> None:
    doc = json.loads(json.dumps(DOCLING))
    doc["body"]["children"].append({"$ref": "#/pictures/0"})
    doc["pictures"] = [
        {"self_ref": "#/pictures/0", "label": "picture", "children": [{"$ref": "#/texts/3"}, {"$ref": "#/texts/4"}],
         "prov": [{"page_no": 1, "bbox": {"l": 0, "t": 400, "r": 100, "b": 300, "coord_origin": "BOTTOMLEFT"}}]}
    ]  # fmt: skip
    for i, (label, text) in enumerate((("text", "axis label"), ("caption", "Figure 1")), start=3):
        doc["texts"].append({"self_ref": f"#/texts/{i}", "parent": {"$ref": "#/pictures/0"}, "label": label,
                             "content_layer": "body", "text": text, "prov": []})  # fmt: skip
    assert gt.docling_page_texts(doc) == {0: ["first", "second", "Figure 1"]}
    assert [b.kind for b in gt.docling_layout(doc).boxes].count("figure") == 1
