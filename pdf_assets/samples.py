"""Generated sample PDFs for the demo: a text page, a ruled table, a chart, a scanned page.

They are drawn from code (no files shipped) so the demo always has inputs that exercise
every stage: the text layer, table structure, a figure with a caption, and OCR.
"""

from __future__ import annotations

import io
from pathlib import Path

import pymupdf
from PIL import Image, ImageDraw, ImageFont

A4 = (595, 842)
PARAGRAPH = (
    "Stage-by-stage processing keeps every model busy: all pages of all documents go "
    "through layout detection together, then every text region through OCR, every table "
    "through structure recognition and every chart through chart-to-data extraction."
)
TABLE = [
    ["Stage", "Items", "Batch size", "Speed-up"],
    ["Layout", "1200", "32", "6.1"],
    ["OCR", "18000", "256", "12.4"],
    ["Tables", "340", "16", "6.3"],
]
CHART = [("2021", 12), ("2022", 19), ("2023", 27), ("2024", 41)]


def _new_page(doc: pymupdf.Document) -> pymupdf.Page:
    return doc.new_page(width=A4[0], height=A4[1])


def text_pdf(path: Path) -> None:
    with pymupdf.open() as doc:
        page = _new_page(doc)
        page.insert_text((72, 90), "Batching PDF pipelines", fontsize=22, fontname="helv")
        page.insert_textbox(pymupdf.Rect(72, 120, 523, 260), PARAGRAPH, fontsize=11, fontname="helv")
        page.insert_textbox(pymupdf.Rect(72, 280, 523, 400), PARAGRAPH, fontsize=11, fontname="tiro")
        doc.save(path, garbage=3, deflate=True)


def table_pdf(path: Path) -> None:
    """A ruled 4x4 table: lines drawn as vector graphics, cell text as real text."""
    with pymupdf.open() as doc:
        page = _new_page(doc)
        page.insert_text((72, 90), "Measured throughput", fontsize=18, fontname="helv")
        x0, y0, col_w, row_h = 72, 120, 110, 26
        for r, row in enumerate(TABLE):
            for c, value in enumerate(row):
                rect = pymupdf.Rect(x0 + c * col_w, y0 + r * row_h, x0 + (c + 1) * col_w, y0 + (r + 1) * row_h)
                page.draw_rect(rect, color=(0, 0, 0), width=0.8)
                page.insert_text((rect.x0 + 6, rect.y1 - 8), value, fontsize=11, fontname="hebo" if r == 0 else "helv")
        page.insert_text((72, y0 + len(TABLE) * row_h + 24), "Table 1: batched vs page-by-page.", fontsize=10)
        doc.save(path, garbage=3, deflate=True)


def chart_png(width: int = 640, height: int = 400) -> bytes:
    """A bar chart rendered to PNG, so the figure is a raster image as in scanned reports."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=18)
    left, bottom, top = 70, height - 50, 40
    draw.line([(left, top), (left, bottom), (width - 20, bottom)], fill="black", width=2)
    peak = max(v for _, v in CHART)
    bar_w = (width - left - 40) // len(CHART)
    for i, (label, value) in enumerate(CHART):
        x = left + 20 + i * bar_w
        y = bottom - int((bottom - top) * value / peak)
        draw.rectangle([x, y, x + bar_w - 30, bottom], fill=(60, 110, 200))
        draw.text((x + 4, bottom + 10), label, fill="black", font=font)
        draw.text((x + 4, y - 22), str(value), fill="black", font=font)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def chart_pdf(path: Path) -> None:
    with pymupdf.open() as doc:
        page = _new_page(doc)
        page.insert_text((72, 90), "Documents processed per year", fontsize=18, fontname="helv")
        page.insert_image(pymupdf.Rect(72, 120, 472, 370), stream=chart_png())
        page.insert_text((72, 392), "Figure 1: documents processed per year (thousands).", fontsize=10)
        page.insert_textbox(pymupdf.Rect(72, 420, 523, 560), PARAGRAPH, fontsize=11, fontname="helv")
        doc.save(path, garbage=3, deflate=True)


def scanned_pdf(path: Path, dpi: int = 200) -> None:
    """An image-only page: a text page rendered to pixels, with no text layer left."""
    with pymupdf.open() as src:
        page = _new_page(src)
        page.insert_text((72, 90), "Scanned letter", fontsize=20, fontname="helv")
        page.insert_textbox(pymupdf.Rect(72, 120, 523, 300), PARAGRAPH, fontsize=13, fontname="helv")
        pix = page.get_pixmap(dpi=dpi, alpha=False)
    with pymupdf.open() as doc:
        out = _new_page(doc)
        out.insert_image(out.rect, stream=pix.tobytes("png"))
        doc.save(path, garbage=3, deflate=True)


SAMPLES = {
    "text_page.pdf": text_pdf,
    "table_page.pdf": table_pdf,
    "chart_page.pdf": chart_pdf,
    "scanned_page.pdf": scanned_pdf,
}


def write_samples(folder: Path) -> list[Path]:
    """Write every sample PDF into `folder` (created if needed); returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in SAMPLES.items():
        path = folder / name
        make(path)
        paths.append(path)
    return paths
