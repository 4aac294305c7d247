"""Summary, machine facts and Markdown for `benchmarks.cpu_peer`'s report."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pymupdf

if TYPE_CHECKING:
    from benchmarks.cpu_peer import Run

PROJECT = "pdf_assets"
PEER = "pymupdf4llm"
TOOLS = (PROJECT, PEER)


def summarize(runs: Sequence[Run], peer_label: str) -> list[dict[str, Any]]:
    """Median and best run per tool, each tool's speed as a multiple of pymupdf4llm's.

    The best run is the one least disturbed by other work on a shared machine; the median
    is what a user would typically see there.
    """
    rows: list[dict[str, Any]] = []
    for tool in TOOLS:
        mine = [r for r in runs if r.tool == tool]
        if not mine:
            continue
        seconds, best = statistics.median(r.seconds for r in mine), min(r.seconds for r in mine)
        pages = mine[0].pages
        rows.append(
            {
                "tool": tool if tool == PROJECT else f"{PEER} ({peer_label})",
                "key": tool,
                "runs": len(mine),
                "pages": pages,
                "seconds": round(seconds, 3),
                "pages_per_s": round(pages / seconds, 3),
                "best_pages_per_s": round(pages / best, 3),
                "cpu_s": round(statistics.median(r.cpu_s for r in mine), 3),
            }
        )
    peer = next((r for r in rows if r["key"] == PEER), None)
    for row in rows:
        for key in ("pages_per_s", "best_pages_per_s"):
            ratio = row[key] / peer[key] if peer and peer[key] else None
            row[f"ratio_{key}"] = None if ratio is None else round(ratio, 3)
    return rows


def machine() -> dict[str, object]:
    """What the numbers depend on: cores, CPU, and the versions of both stacks."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), platform.processor()
    )
    versions = {
        name: _version(name)
        for name in ("pdf-assets", "pymupdf", "pymupdf4llm", "onnxruntime", "rapidocr-onnxruntime", "torch")
    }
    return {
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "mupdf": pymupdf.VersionFitz,
        "versions": versions,
    }


def _cpuinfo() -> list[str]:
    with contextlib.suppress(OSError):
        return Path("/proc/cpuinfo").read_text().splitlines()
    return []


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


# --- report -------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    """The comparison as Markdown: machine, inputs, summary table, every run, pdf_assets' steps."""
    lines = ["## CPU throughput: pdf_assets (embedded default) vs pymupdf4llm", "", *_context(report), ""]
    lines += [*_summary_table(report["summary"]), "", *_runs_table(report["runs"])]
    steps = [r for r in report["runs"] if r["tool"] == PROJECT]
    if steps:
        lines += ["", *_steps_table(steps)]
    for run in report["runs"]:
        lines += [f"- failures, {run['tool']} round {run['round']}: {f}" for f in run["failures"]]
    return "\n".join(lines) + "\n"


def _context(report: dict[str, Any]) -> list[str]:
    """Machine, load, inputs and OCR set-up: what a reader needs before trusting the ratio."""
    m, load = report["machine"], report["load_avg_1m"]
    v = m["versions"]
    stack = (
        f"Python {m['python']}, pymupdf {v['pymupdf']} (MuPDF {m['mupdf']}), pymupdf4llm {v['pymupdf4llm']},"
        f" onnxruntime {v['onnxruntime']}, rapidocr-onnxruntime {v['rapidocr-onnxruntime']}"
    )
    lines = [
        f"Machine: {m['cores']} cores ({m['cpu']}), {stack}.",
        f"Load average (1 min) at start / end: {load['start']} / {load['end']} (other work here skews wall times).",
        f"Inputs: {len(report['pdfs'])} PDFs, {report['input_pages']} pages, from `{report['corpus']}`.",
    ]
    lines += [f"Skipped for both tools: `{name}`: {why}." for name, why in report["skipped"].items()]
    return [*lines, f"pymupdf4llm OCR: {report['peer_ocr']['note']}."]


def _summary_table(summary: Sequence[dict[str, Any]]) -> list[str]:
    """Median wall time per tool (and the CPU it used), the best run, and the ratios to pymupdf4llm."""
    lines = [
        "| tool | runs | pages | median s | pages/s (median) | ratio vs pymupdf4llm (median)"
        " | pages/s (best) | ratio (best) | CPU s (median) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary:
        median, best = (_ratio(row[f"ratio_{k}"]) for k in ("pages_per_s", "best_pages_per_s"))
        lines.append(
            f"| {row['tool']} | {row['runs']} | {row['pages']} | {row['seconds']:.2f} | {row['pages_per_s']:.3f}"
            f" | {median} | {row['best_pages_per_s']:.3f} | {best} | {row['cpu_s']:.1f} |"
        )
    return lines


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def _runs_table(runs: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| round | order | tool | pages | seconds | pages/s | CPU s | pages OCR'd (peer) |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        ocr = "" if r["ocr_pages"] is None else str(r["ocr_pages"])
        lines.append(
            f"| {r['round']} | {r['position']} | {r['tool']} | {r['pages']} | {r['seconds']:.2f}"
            f" | {r['pages_per_s']:.3f} | {r['cpu_s']:.1f} | {ocr} |"
        )
    return lines


def _steps_table(runs: Sequence[dict[str, Any]]) -> list[str]:
    """pdf_assets' wall time per step, each as a share of its run, so the costliest step shows."""
    steps = list(runs[0]["steps_s"])
    lines = [
        "| pdf_assets step | " + " | ".join(f"round {r['round']} s (share)" for r in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for step in steps:
        cells = [f"{r['steps_s'].get(step, 0.0):.2f} ({r['steps_s'].get(step, 0.0) / r['seconds']:.0%})" for r in runs]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return lines


# --- entry point --------------------------------------------------------------------------
