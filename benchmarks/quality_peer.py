"""Score pymupdf4llm's output on the shared corpus with the same scorer as `pdf-assets eval`.

pymupdf4llm is not a project dependency; install it into the virtualenv just for this:

    .venv/bin/pip install pymupdf4llm
    .venv/bin/python -m benchmarks.quality_peer ../shared/corpus --out /tmp/peer.md --json /tmp/peer.json

Each page's `page_boxes` (class, bbox, character span of the page's Markdown) become
regions: the class maps onto the project's labels, the span's Markdown is the region's text
(pipe tables are parsed into cell grids, header row included), and the same scoring as
the pipeline's report is applied (`pdf_assets.evaluation.evaluate_documents`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pymupdf
import pymupdf4llm

from pdf_assets.core.types import Box, kind_of_label
from pdf_assets.evaluation.evaluate import evaluate_documents
from pdf_assets.evaluation.groundtruth import table_from_rows
from pdf_assets.evaluation.outputs import DocOutput, RegionOut
from pdf_assets.evaluation.report import render_markdown
from pdf_assets.evaluation.run import CORPUS_PASSWORDS, corpus_pdfs

CLASS_TO_LABEL = {
    "section-header": "section_header",
    "page-header": "page_header",
    "page-footer": "page_footer",
    "list-item": "list_item",
    "picture": "figure",
    "image": "figure",
    "chart": "figure",
}
_MARKUP = re.compile(r"\*\*|<mark>|</mark>|^#+ ", re.MULTILINE)


def _clean(text: str) -> str:
    return _MARKUP.sub("", text).replace("<br>", "\n").strip()


def _pipe_table(markdown: str, page: int) -> RegionOut | None:
    rows = [
        [_clean(c) for c in line.strip().strip("|").split("|")]
        for line in markdown.splitlines()
        if line.strip().startswith("|") and not re.fullmatch(r"\|?[\s:|-]+\|?", line.strip())
    ]
    if not rows:
        return None
    return RegionOut(page, 0, "table", "table", Box(0, 0, 0, 0), table=table_from_rows(rows, page, "pymupdf4llm"))


def _regions(chunk: dict[str, object], page: int) -> list[RegionOut]:
    text = str(chunk["text"])
    out = []
    for i, box in enumerate(chunk.get("page_boxes") or []):  # type: ignore[attr-defined]
        label = CLASS_TO_LABEL.get(box["class"], box["class"].replace("-", "_"))
        start, end = box.get("pos", (0, 0))
        body = text[start:end]
        bbox = Box(*map(float, box["bbox"]))
        if label == "table":
            parsed = _pipe_table(body, page)
            out.append(RegionOut(page, i, "table", "table", bbox, table=parsed.table if parsed else None))
        else:
            kind = kind_of_label(label).value
            out.append(RegionOut(page, i, label, kind, bbox, text=_clean(body) if kind == "text" else None))
    return out


def peer_document(pdf: Path) -> DocOutput:
    try:
        doc = pymupdf.open(pdf)
        if doc.needs_pass and not doc.authenticate(CORPUS_PASSWORDS.get(pdf.name, "")):
            raise ValueError("PDF is encrypted and needs a password")
        chunks = pymupdf4llm.to_markdown(doc, page_chunks=True)
        pages = [(p.rect.width, p.rect.height) for p in doc]
    except Exception as exc:  # noqa: BLE001 - a peer failure is a result to report, like a lost document
        return DocOutput(pdf.name, "error", f"{type(exc).__name__}: {exc}")
    out = DocOutput(pdf.name, "ok", None, pages=pages, page_text_chars=[0] * len(pages))
    for page, chunk in enumerate(chunks):
        out.regions.extend(_regions(chunk, page))
    return out


SUMMARY_ROWS = (
    ("text edit similarity (3 docling docs)", "text_similarity_mean"),
    ("text word F1 (3 docling docs)", "word_f1_mean"),
    ("text word order similarity (3 docling docs)", "word_order_similarity_mean"),
    ("table cell F1 strict (7 target tables)", "table_strict_f1_mean"),
    ("table cell F1 lenient (7 target tables)", "table_lenient_f1_mean"),
    ("table cell F1 strict (all 13 truth tables)", "table_strict_f1_mean_all"),
    ("TEDS (tables with span truth)", "teds_mean_all"),
    ("layout recall (IoU >= 0.5)", "layout_recall"),
    ("chart values recovered", "chart_fraction"),
)


def comparison(ours: dict[str, object], peer: dict[str, object]) -> str:
    """Side-by-side summary numbers of two reports (Markdown)."""
    a, b = ours["summary"], peer["summary"]
    assert isinstance(a, dict) and isinstance(b, dict)
    lines = ["| metric | pdf_assets (embedded) | pymupdf4llm |", "|---|---|---|"]
    for title, key in SUMMARY_ROWS:
        lines.append(f"| {title} | {_fmt(a.get(key))} | {_fmt(b.get(key))} |")
    lines.append(f"| documents lost | {len(a['documents_lost'])} | {len(b['documents_lost'])} |")
    return "\n".join(lines) + "\n"


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "-" if value is None else str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--out", help="Markdown report (default: stdout)")
    parser.add_argument("--json", help="JSON report")
    parser.add_argument("--compare", type=Path, help="a `pdf-assets eval --json` report: print both side by side")
    args = parser.parse_args()
    docs = {pdf.name: peer_document(pdf) for pdf in corpus_pdfs(args.corpus)}
    report = evaluate_documents(args.corpus, docs)
    report["backend"] = f"pymupdf4llm {pymupdf4llm.__version__}"
    markdown = render_markdown(report, "Quality report: pymupdf4llm (peer)")
    if args.compare:
        ours = json.loads(args.compare.read_text(encoding="utf-8"))
        markdown = "## Side by side\n\n" + comparison(ours, report) + "\n" + markdown
    if args.out:
        Path(args.out).write_text(markdown, encoding="utf-8")
    else:
        sys.stdout.write(markdown)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
