"""CPU throughput against a peer: the embedded default pipeline vs pymupdf4llm, same PDFs, same run.

Both tools get the same copies of the corpus PDFs in one temporary folder and run one after
the other in this process, on the CPU:

- pdf_assets: `run_pipeline` with a default `InferenceEngine()` (every stage `embedded`,
  device `auto`), then the database write (`build_bundle` + `replace_partitions`) into a
  temporary SQLite file, timed end to end and per step;
- pymupdf4llm: `to_json(path)` per PDF, with OCR on when an OCR engine is available (the
  library picks RapidOCR and/or Tesseract itself; the choice is reported), else without
  OCR, labelled as such.

Encrypted PDFs are skipped for both tools, because pdf_assets cannot open them yet; the
output names them. With `--repeat N > 1` the order alternates (pdf_assets first in odd
rounds, pymupdf4llm first in even ones) so that neither tool always runs warm, and every
run is reported; the summary gives each tool's median and best run, and the CPU seconds
it used (steadier than wall time when other work shares the machine). The first run of
each tool also loads its models (`--warmup` runs both once, untimed, first).

    python -m benchmarks.cpu_peer --corpus ../shared/corpus/pdfs --repeat 2 --json out.json --md out.md

`--only pdf_assets` runs just this project, e.g. under a profiler:

    python -m cProfile -o cpu_peer.prof -m benchmarks.cpu_peer --corpus ../shared/corpus/pdfs --only pdf_assets
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymupdf

from benchmarks.cpu_peer_report import PEER, PROJECT, TOOLS, machine, markdown, summarize

PARTITION = "corpus"

OcrFunction = Callable[..., Any]


@dataclass
class Run:
    """One timed pass of one tool over the whole folder."""

    tool: str
    round: int
    position: int  # 1 = ran first in its round
    pages: int
    seconds: float
    steps_s: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    ocr_pages: int | None = None
    failures: list[str] = field(default_factory=list)
    cpu_s: float = 0.0  # CPU time of this process and its workers: steadier than wall time on a busy machine

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "tool": self.tool,
            "round": self.round,
            "position": self.position,
            "pages": self.pages,
            "seconds": round(self.seconds, 3),
            "pages_per_s": round(self.pages_per_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "steps_s": {k: round(v, 3) for k, v in self.steps_s.items()},
            "rows": self.rows,
            "ocr_pages": self.ocr_pages,
            "failures": self.failures,
        }


@dataclass
class PeerOcr:
    """How pymupdf4llm's OCR is set up here; counts the pages it actually OCRs."""

    function: OcrFunction | None
    engine: str
    note: str
    calls: int = 0

    def __call__(self, page: pymupdf.Page, **kwargs: Any) -> Any:
        self.calls += 1
        assert self.function is not None
        return self.function(page, **kwargs)

    @property
    def enabled(self) -> bool:
        return self.function is not None


# --- inputs -----------------------------------------------------------------------------


def is_encrypted(path: Path) -> bool:
    """A PDF that needs a password: pdf_assets has no way to pass one yet."""
    try:
        with pymupdf.open(path) as doc:
            return bool(doc.needs_pass)
    except Exception:  # noqa: BLE001 - a broken file is for the tools to handle, not this check
        return False


def copy_corpus(corpus: Path, dest: Path) -> tuple[list[Path], dict[str, str]]:
    """Copy every PDF both tools can open into `dest`; return the copies and what was skipped, why."""
    dest.mkdir(parents=True, exist_ok=True)
    copies: list[Path] = []
    skipped: dict[str, str] = {}
    for src in sorted(p for p in corpus.iterdir() if p.is_file() and p.suffix.lower() == ".pdf"):
        if is_encrypted(src):
            skipped[src.name] = "encrypted (needs a password); pdf_assets cannot open it yet, so skipped for both tools"
            continue
        copies.append(Path(shutil.copy2(src, dest / src.name)))
    return copies, skipped


def input_pages(pdfs: Sequence[Path]) -> int:
    """Pages MuPDF finds in the inputs (after repair), the yardstick both tools should reach."""
    total = 0
    for pdf in pdfs:
        with contextlib.suppress(Exception), pymupdf.open(pdf) as doc:
            total += doc.page_count
    return total


# --- pdf_assets ---------------------------------------------------------------------------


def run_project(folder: Path, work: Path, round_no: int, position: int) -> Run:
    """The whole pipeline in process, render to committed database rows, on the CPU."""
    from pdf_assets.stages.engine import InferenceEngine
    from pdf_assets.stages.pipeline import all_failures, build_bundle, run_pipeline
    from pdf_assets.storage.db import init_db, make_engine, session_scope
    from pdf_assets.storage.repository import replace_partitions

    data = work / f"data-{round_no}-{position}"
    db = make_engine(f"sqlite:///{data / 'pdf_assets.db'}")
    init_db(db)  # schema setup is not part of a run
    engine = InferenceEngine()
    started = time.perf_counter()
    out = run_pipeline({PARTITION: folder}, data, engine)
    t0 = time.perf_counter()
    with session_scope(db) as session:
        rows = replace_partitions(session, build_bundle(out))
    steps = {**out.seconds, "db_rows": time.perf_counter() - t0}
    seconds = time.perf_counter() - started
    db.dispose()
    groups = (out.pages, out.layouts, out.categorized, out.texts, out.tables, out.figures)
    failures = [f"{f.stage}: {Path(str(f.item)).name}: {f.error}" for f in all_failures(*groups)]
    pages = sum(len(m.pages) for m in out.pages.values())
    shutil.rmtree(data, ignore_errors=True)
    return Run(PROJECT, round_no, position, pages, seconds, steps, dict(rows), failures=failures)


# --- pymupdf4llm --------------------------------------------------------------------------


def peer_ocr() -> PeerOcr:
    """The OCR function pymupdf4llm would pick itself (RapidOCR, Tesseract, both, or none)."""
    from pymupdf4llm.helpers import document_layout

    with quiet():
        function = document_layout.select_ocr_function()
    try:
        tessdata: str | None = pymupdf.get_tessdata()
    except Exception:  # noqa: BLE001 - pymupdf raises when no Tesseract data is installed
        tessdata = None
    tesseract = f"Tesseract data at {tessdata}" if tessdata else "Tesseract absent (no tessdata found)"
    if function is None:
        return PeerOcr(None, "none", f"no OCR engine available ({tesseract}); pymupdf4llm ran WITHOUT OCR")
    engine = function.__module__.rsplit(".", 1)[-1].removesuffix("_api")
    names = {"rapidocr": "RapidOCR", "rapidtess": "RapidOCR + Tesseract", "tesseract": "Tesseract"}
    label = names.get(engine, engine)
    return PeerOcr(function, label, f"OCR on (use_ocr=True) via {label}; {tesseract}")


@contextlib.contextmanager
def quiet() -> Iterator[io.StringIO]:
    """Keep pymupdf4llm's progress prints (stdout and MuPDF messages) out of the report."""
    buffer = io.StringIO()
    pymupdf.set_messages(stream=buffer)
    try:
        with contextlib.redirect_stdout(buffer):
            yield buffer
    finally:
        pymupdf.set_messages(stream=sys.stdout)


def run_peer(pdfs: Sequence[Path], ocr: PeerOcr, round_no: int, position: int) -> Run:
    """`pymupdf4llm.to_json` over every PDF, one after the other, as a user would call it."""
    import pymupdf4llm

    options: dict[str, Any] = {"use_ocr": True, "ocr_function": ocr} if ocr.enabled else {"use_ocr": False}
    ocr.calls = 0
    pages, failures = 0, []
    started = time.perf_counter()
    for pdf in pdfs:
        try:
            with quiet():
                result = pymupdf4llm.to_json(str(pdf), **options)
            pages += len(json.loads(result).get("pages", []))
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the comparison
            failures.append(f"{pdf.name}: {type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    return Run(
        PEER, round_no, position, pages, seconds, ocr_pages=ocr.calls if ocr.enabled else None, failures=failures
    )


# --- the comparison -----------------------------------------------------------------------


def order_for(round_no: int, tools: Sequence[str]) -> list[str]:
    """pdf_assets first in odd rounds, pymupdf4llm first in even ones."""
    return list(tools) if round_no % 2 == 1 else list(reversed(tools))


def run_rounds(args: argparse.Namespace, folder: Path, pdfs: Sequence[Path], work: Path, ocr: PeerOcr) -> list[Run]:
    """Every round, each tool once, in alternating order; prints each run as it ends."""
    tools = [t for t in TOOLS if args.only in ("both", t)]
    if args.warmup:
        print("warm-up: one untimed pass of each tool ...", flush=True)
        for tool in tools:
            run_one(tool, folder, pdfs, work, ocr, 0, 0)
    runs: list[Run] = []
    for round_no in range(1, args.repeat + 1):
        for position, tool in enumerate(order_for(round_no, tools), 1):
            run = run_one(tool, folder, pdfs, work, ocr, round_no, position)
            print(
                f"round {round_no}, #{position}: {tool}: {run.pages} pages in {run.seconds:.2f} s "
                f"({run.pages_per_s:.3f} pages/s)",
                flush=True,
            )
            runs.append(run)
    return runs


def run_one(
    tool: str, folder: Path, pdfs: Sequence[Path], work: Path, ocr: PeerOcr, round_no: int, position: int
) -> Run:
    cpu = cpu_seconds()
    run = run_project(folder, work, round_no, position) if tool == PROJECT else run_peer(pdfs, ocr, round_no, position)
    run.cpu_s = cpu_seconds() - cpu
    return run


def cpu_seconds() -> float:
    """User + system CPU of this process, its exited children and its live ones (render workers).

    Wall time on a shared machine moves with whatever else runs; the CPU a tool burns does not.
    """
    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    try:
        import psutil
    except ImportError:
        return total
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            c = child.cpu_times()
            total += c.user + c.system
    return total


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cpu_peer", description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, required=True, help="folder of PDFs (copied; the originals are not touched)")
    p.add_argument("--repeat", type=int, default=1, help="rounds; the order of the tools alternates per round")
    p.add_argument("--warmup", action="store_true", help="one untimed pass of each tool first (loads the models)")
    p.add_argument("--only", choices=("both", *TOOLS), default="both", help="run one tool only (for profiling)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--md", type=Path, default=None)
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="pdf-assets-cpu-peer-") as tmp:
        work = Path(tmp)
        folder = work / PARTITION
        pdfs, skipped = copy_corpus(args.corpus.resolve(), folder)
        if not pdfs:
            print(f"no PDF to run in {args.corpus}", file=sys.stderr)
            return 2
        ocr = peer_ocr() if args.only != PROJECT else PeerOcr(None, "n/a", "not run")
        load_start = os.getloadavg()[0]
        runs = run_rounds(args, folder, pdfs, work, ocr)
        report = {
            "machine": machine(),
            "load_avg_1m": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
            "corpus": str(args.corpus),
            "pdfs": [p.name for p in pdfs],
            "skipped": skipped,
            "input_pages": input_pages(pdfs),
            "peer_ocr": {"enabled": ocr.enabled, "engine": ocr.engine, "note": ocr.note},
            "runs": [r.as_dict() for r in runs],
            "summary": summarize(runs, "OCR" if ocr.enabled else "no OCR"),
        }
    text = markdown(report)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.md:
        args.md.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
