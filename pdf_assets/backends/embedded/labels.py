"""Map the PyMuPDF layout model's vocabulary onto the project's canonical labels.

The ONNX model that ships with `pymupdf.layout` is trained on a DocLayNet-style class list
(see `resources/onnx/layout_*.yaml`, `data.class_list`). Its names use hyphens and call
figures "picture"; everything else has a one-to-one canonical counterpart.

| PyMuPDF layout  | canonical      |
|-----------------|----------------|
| text            | text           |
| title           | title          |
| section-header  | section_header |
| list-item       | list_item      |
| table           | table          |
| picture         | figure         |
| caption         | caption        |
| page-header     | page_header    |
| page-footer     | page_footer    |
| formula         | formula        |
| footnote        | footnote       |
| code (*)        | code           |

(*) not in the current class list; kept so a newer model that adds it maps cleanly.
The table documents (and the tests check) the installed model's vocabulary; the lookup itself
is the shared `backends.labels.canonical_label`, which folds the hyphens. Unknown labels fall
back to "text": the region still gets its text read, which loses less than dropping it.
"""

from __future__ import annotations

from pdf_assets.backends.labels import canonical_label

__all__ = ["PYMUPDF_LAYOUT_LABELS", "canonical_label"]

PYMUPDF_LAYOUT_LABELS: dict[str, str] = {
    "text": "text",
    "title": "title",
    "section-header": "section_header",
    "list-item": "list_item",
    "table": "table",
    "picture": "figure",
    "caption": "caption",
    "page-header": "page_header",
    "page-footer": "page_footer",
    "formula": "formula",
    "footnote": "footnote",
    "code": "code",
}
