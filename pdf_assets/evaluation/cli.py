"""`pdf-assets eval <corpus-dir>`: its arguments and what it does (the CLI module only wires it).

Regenerating the golden files is one command:
`pdf-assets eval ../shared/corpus --update-golden tests/golden`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("corpus", help="corpus folder with pdfs/ and groundtruth/ (e.g. ../shared/corpus)")
    p.add_argument("--db-url", help="score this database instead of running the pipeline over the corpus")
    p.add_argument("--work-dir", help="keep the run's data and database here (default: a temporary folder)")
    p.add_argument("--out", help="write the Markdown report to this file (default: print it)")
    p.add_argument("--json", help="write the JSON report to this file")
    p.add_argument("--title", default="Quality report", help="the Markdown report's heading")
    p.add_argument("--update-golden", metavar="DIR", help="rewrite the golden files in DIR from this run's output")
    p.add_argument(
        "--backend", choices=("embedded", "hf", "fake"), default="embedded", help="model family for every stage"
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | cuda:all")


def run_eval(args: argparse.Namespace) -> int:
    from pdf_assets.evaluation.evaluate import evaluate
    from pdf_assets.evaluation.golden import write_golden
    from pdf_assets.evaluation.report import render_markdown

    corpus = Path(args.corpus)
    if not corpus.is_dir():
        print(f"error: not a folder: {corpus}", file=sys.stderr)
        return 2
    work_dir = Path(args.work_dir).resolve() if args.work_dir else None
    report, docs = evaluate(corpus, db_url=args.db_url, work_dir=work_dir, backend=args.backend, device=args.device)
    markdown = render_markdown(report, args.title)
    if args.out:
        Path(args.out).write_text(markdown, encoding="utf-8")
    else:
        print(markdown)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.update_golden:
        written = write_golden(docs, Path(args.update_golden))
        print(f"wrote {len(written)} golden files to {args.update_golden}", file=sys.stderr)
    return 0
