"""Markdown for the end-to-end benchmark's JSON report."""

from __future__ import annotations

from collections.abc import Mapping

STEPS = ("pages", "layouts", "categorized_regions", "text_results", "table_results", "figure_results", "db_rows")


def _row(name: str, r: Mapping[str, object]) -> str:
    busy = r.get("gpu_busy_share")
    return (
        f"| {name} | {r['pages']} | {r['wall_s']} | **{r['pages_per_s']}** | "
        f"{'-' if busy is None else busy} | {r.get('host_rss_start_mib', '-')} -> {r['host_rss_peak_mib']} | "
        f"{r['host_rss_with_workers_peak_mib']} | "
        f"{r['device_peak_mib']} |"
    )


def _steps(r: Mapping[str, object]) -> list[str]:
    seconds: Mapping[str, float] = r["steps_s"]  # type: ignore[assignment]
    share: Mapping[str, float] = r["steps_share"]  # type: ignore[assignment]
    items: Mapping[str, int] = r["stage_items"]  # type: ignore[assignment]
    lines = ["| step | seconds | share of wall |", "|---|---|---|"]
    lines += [f"| {s} | {seconds[s]} | {share[s]:.1%} |" for s in STEPS if s in seconds]
    lines += ["", "model stage items: " + ", ".join(f"{k} {v}" for k, v in items.items())]
    return lines


def markdown(report: Mapping[str, object]) -> str:
    head = (
        "| run | pages | wall s | pages/s | GPU busy | host RSS MiB, start -> peak | with workers MiB "
        "| device peak MiB |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    main: Mapping[str, object] = report["main"]  # type: ignore[assignment]
    lines.append(_row(f"{main['mix']} (main)", main))
    for r in report.get("sizes", []):  # type: ignore[attr-defined]
        lines.append(_row(f"size {r['pages']}", r))
    base = report.get("baseline")
    if base:
        lines.append(_row("baseline: batched", base["batched"]))  # type: ignore[index]
        lines.append(_row("baseline: page-by-page", base["page_by_page"]))  # type: ignore[index]
    for v in report.get("variants", []):  # type: ignore[attr-defined]
        lines.append(_row(f"variant {v['variant']} (same outputs: {v['same_outputs_as_main']})", v))
    lines += ["", *_steps(main)]
    if main.get("model_only_s"):
        lines += ["", f"model-only seconds: {main['model_only_s']}; wall / model-only = {main['wall_over_model_only']}"]
    if base:
        lines += ["", f"batched vs page-by-page, same pages: {base['ratio']}x"]  # type: ignore[index]
    if "dagster" in report:
        lines += ["", f"Dagster job in process: {report['dagster']}"]
    return "\n".join(lines)
