"""Layout vocabularies -> the project's canonical labels, shared by every backend family.

Names are normalised (lower case; `-`, `_` and spaces folded) and looked up in `LABEL_MAP`,
which covers DocLayNet (and with it PyMuPDF's bundled layout model, trained on a
DocLayNet-style class list that calls figures "picture"), PubLayNet and docling's extended
vocabulary. A name that is not in the map becomes "text" (the safe bucket: its text is still
extracted) and is logged once per name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from pdf_assets.core.types import LABELS

logger = logging.getLogger(__name__)

LABEL_MAP: Mapping[str, str] = {
    # DocLayNet
    "caption": "caption",
    "footnote": "footnote",
    "formula": "formula",
    "list item": "list_item",
    "page footer": "page_footer",
    "page header": "page_header",
    "picture": "figure",
    "section header": "section_header",
    "table": "table",
    "text": "text",
    "title": "title",
    # PubLayNet and other common spellings
    "list": "list_item",
    "figure": "figure",
    "image": "figure",
    "chart": "figure",
    "equation": "formula",
    "header": "page_header",
    "footer": "page_footer",
    "paragraph": "text",
    "plain text": "text",
    "code": "code",
    # docling's extended DocLayNet vocabulary
    "document index": "table",
    "form": "text",
    "key value region": "text",
    "checkbox selected": "text",
    "checkbox unselected": "text",
}

_warned: set[str] = set()


def normalise_label(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def canonical_label(name: str) -> str:
    """Map one checkpoint label to a label of `core.types.LABELS` ("text" when unknown)."""
    key = normalise_label(name)
    label = LABEL_MAP.get(key)
    if label is None and key.replace(" ", "_") in LABELS:
        label = key.replace(" ", "_")
    if label is None:
        if name not in _warned:
            _warned.add(name)
            logger.warning("layout label %r is not mapped to a canonical label; treating it as 'text'", name)
        return "text"
    return label
