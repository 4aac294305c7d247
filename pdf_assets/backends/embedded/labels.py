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
Unknown labels fall back to "text": the region still gets its text read, which loses
less than dropping it.
"""

from __future__ import annotations

import logging

from pdf_assets.core.types import LABELS

logger = logging.getLogger(__name__)

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

_warned: set[str] = set()


def canonical_label(raw: str) -> str:
    """The canonical label for a PyMuPDF layout class name (unknown names become "text")."""
    label = PYMUPDF_LAYOUT_LABELS.get(raw.strip().lower())
    if label is None or label not in LABELS:
        if raw not in _warned:
            _warned.add(raw)
            logger.warning("unknown layout label %r mapped to 'text'", raw)
        return "text"
    return label
