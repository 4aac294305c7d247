"""`pdf-assets`: run the pipeline and look at its results without opening the UI.

`demo` and `run` execute the same Dagster job the UI runs, in this process, over a
partition range (so lineage and run history show up in the UI afterwards when
DAGSTER_HOME is set); `show` prints what is in the database and `export` writes its
documents as Markdown and JSON files.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from tqdm import tqdm

from pdf_assets.core.errors import ConfigError
from pdf_assets.core.folders import list_pdfs
from pdf_assets.core.pdf import ENV_PASSWORDS, configured_passwords, read_passwords_file
from pdf_assets.samples import write_samples

logger = logging.getLogger(__name__)

#: exit codes of `demo` and `run` (the runner returns the run-level ones)
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_DOCUMENTS_FAILED = 3
EXIT_CODES = """exit codes of demo and run: 0 every document read (partly read ones too, unless --strict);
1 a run failed (a stage error, a failed blocking check); 2 bad arguments or settings, or no PDFs,
nothing run; 3 the runs succeeded but some document could not be read (with --strict: or was
only partly read); 143 stopped by a signal."""


class ProgressBars(logging.Handler):
    """Draws one progress bar per stage from the engine's progress log records.

    A bar follows its stage's total as it grows (a streamed stage learns its total as pages
    render) and closes when the count reaches it. A stage that reports again after that gets a
    new bar: from where it stopped when its total grew (the text stage's second OCR run), from
    zero when its count went back (the next run of the CLI).
    """

    def __init__(self) -> None:
        super().__init__()
        self._bars: dict[str, tqdm[NoReturn]] = {}  # open bars
        self._ended: dict[str, int] = {}  # the count of each stage whose bar closed

    def emit(self, record: logging.LogRecord) -> None:
        stage, done, total = getattr(record, "stage", None), getattr(record, "done", 0), getattr(record, "total", 0)
        if stage is None:
            return
        bar = self._bars.get(stage)
        if bar is None:
            ended = self._ended.pop(stage, None)
            bar = self._bars[stage] = _bar(stage, total, ended if ended is not None and done >= ended else 0)
        if total != bar.total:
            bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            del self._bars[stage]
            self._ended[stage] = done


def _bar(stage: str, total: int, start: int) -> tqdm[NoReturn]:
    """A terminal that reports no size (0 x 0: a pseudo-terminal nobody sized, as under
    `docker exec -t` or a test harness) makes tqdm draw nothing at all; the standard fallback
    size keeps the bars visible there."""
    size = shutil.get_terminal_size((100, 24))
    return tqdm(
        total=total,
        initial=start,
        desc=f"{stage:>8}",
        unit="item",
        file=sys.stderr,
        leave=True,
        ncols=size.columns,
        nrows=size.lines,
        mininterval=0.02,  # updates come once per batch: draw each, up to 50 a second
    )


def _version() -> str:
    try:
        return importlib.metadata.version("pdf-assets")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def cli_db_url(args: argparse.Namespace) -> str:
    """`--db-url`, else `$PDF_ASSETS_DB_URL`, else SQLite in `--data-dir` (or the default data dir)."""
    from pdf_assets.core.config import database_url_for

    return database_url_for(args.db_url, getattr(args, "data_dir", None))


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    progress = logging.getLogger("pdf_assets.progress")
    progress.setLevel(logging.INFO)
    progress.propagate = verbose
    progress.addHandler(ProgressBars())


def _use_passwords(args: argparse.Namespace) -> None:
    """Hand `--password` / `--passwords-file` to every PDF opened by this process and its
    workers (through the environment, so they never appear in a run's config or logs)."""
    given = list(args.password or [])
    for path in args.passwords_file or []:
        given += read_passwords_file(Path(path))
    if given:
        os.environ[ENV_PASSWORDS] = "\n".join(configured_passwords(given))


def _checked_folders(folders: list[Path], args: argparse.Namespace) -> list[Path]:
    """The folders, once their keys are known to name them alone (`PartitionKeyConflict` if not)."""
    from pdf_assets.defs.partitions import check_bindings, key_folders, recorded_folders

    keyed = key_folders(folders)
    check_bindings(keyed, recorded_folders(cli_db_url(args)), rebind=args.rebind)
    return list(keyed.values())


def _cmd_demo(args: argparse.Namespace) -> int:
    inbox = Path(args.inbox or os.environ.get("PDF_ASSETS_INBOX", "inbox")).resolve()
    folder = inbox / "demo-samples"
    paths = write_samples(folder)
    print(f"wrote {len(paths)} sample PDFs to {folder}")
    return _run([folder], args)


def _cmd_run(args: argparse.Namespace) -> int:
    from pdf_assets.cli_inputs import as_folders, expand_inputs
    from pdf_assets.core.config import default_data_dir

    inputs = expand_inputs(args.folders)
    missing = [str(f) for f in inputs if not f.is_dir() and not (f.is_file() and f.suffix.lower() == ".pdf")]
    if missing or not inputs:
        print(f"error: not a folder or PDF file: {', '.join(missing or args.folders)}", file=sys.stderr)
        return EXIT_USAGE
    folders = as_folders(inputs, Path(args.data_dir).resolve() if args.data_dir else default_data_dir())
    empty = [f for f in folders if not list_pdfs(f)]
    if len(empty) == len(folders):
        print(f"error: no PDFs found in {', '.join(str(f) for f in folders)}", file=sys.stderr)
        return EXIT_USAGE
    for folder in empty:
        print(f"warning: no PDFs in {folder}: its stored rows will be replaced by none", file=sys.stderr)
    return _run(folders, args)


def _run(folders: list[Path], args: argparse.Namespace) -> int:
    """Check every setting, then run the folders (see `runner.run_folders` for exit codes)."""
    from pdf_assets.cli_settings import config_problems, stage_configs
    from pdf_assets.runner import run_folders

    try:
        configs = stage_configs(args)
        problems = config_problems(configs)
        checked = _checked_folders(folders, args) if not problems else []
    except ConfigError as exc:
        problems = [str(exc)]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print("nothing was run", file=sys.stderr)
        return EXIT_USAGE
    return run_folders(checked, args, configs)


def _cmd_show(args: argparse.Namespace) -> int:
    from pdf_assets.report import print_summary

    return print_summary(args.db_url)


def _cmd_export(args: argparse.Namespace) -> int:
    from pdf_assets.core.config import default_db_url
    from pdf_assets.export import export_partitions

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    try:
        written = export_partitions(args.db_url or default_db_url(), args.keys, Path(args.to), formats)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files under {Path(args.to).resolve()}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from pdf_assets.evaluation.cli import run_eval

    return run_eval(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pdf-assets", description=__doc__.splitlines()[0], epilog=EXIT_CODES)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("demo", "write sample PDFs into the inbox and process them"),
        ("run", "process PDF folders"),
    ):
        p = sub.add_parser(name, help=help_text)
        if name == "run":
            p.add_argument(
                "folders",
                nargs="+",
                help="folders of PDFs (one partition each), quoted patterns, or single PDF files (one partition each)",
            )
        else:
            p.add_argument("--inbox", help="inbox folder (default: $PDF_ASSETS_INBOX or ./inbox)")
        p.add_argument("--data-dir", help="page store and values (default: $PDF_ASSETS_DATA_DIR or ./data)")
        p.add_argument("--db-url", help="SQLAlchemy URL (default: $PDF_ASSETS_DB_URL or SQLite in the data dir)")
        p.add_argument(
            "--backend",
            help="embedded | hf | fake, for every stage or per stage (layout=hf,ocr=embedded); "
            "default: $PDF_ASSETS_BACKEND or embedded",
        )
        p.add_argument(
            "--device",
            help="auto | cpu | cuda | cuda:N | cuda:all, for every stage or per stage; "
            "default: $PDF_ASSETS_DEVICE or auto",
        )
        p.add_argument("--model", help="hub id or local folder per stage (figures=google/deplot,...), hf backend")
        p.add_argument("--batch-size", help="items per batch, for every stage or per stage (ocr=256,tables=32)")
        p.add_argument(
            "--strict",
            action="store_true",
            help=f"exit {EXIT_DOCUMENTS_FAILED} also when a document was only partly read (some region failed)",
        )
        p.add_argument("--dagster-log-level", default="WARNING", help="Dagster's console log level (e.g. INFO)")
        p.add_argument(
            "--password", action="append", help="password for encrypted PDFs (repeatable; tried after the empty one)"
        )
        p.add_argument("--passwords-file", action="append", help="file of passwords for encrypted PDFs, one a line")
        p.add_argument(
            "--rebind", action="store_true", help="let a partition key that holds another folder's rows take this one"
        )
    show = sub.add_parser("show", help="print what the database holds")
    show.add_argument("--db-url", help="SQLAlchemy URL (default: $PDF_ASSETS_DB_URL or SQLite in the data dir)")
    export = sub.add_parser("export", help="write stored documents as Markdown and JSON files")
    export.add_argument("keys", nargs="+", help="partition keys (folder names) to export")
    export.add_argument("--to", required=True, help="output folder (one subfolder per partition)")
    export.add_argument("--format", default="md,json", help="comma-separated: md, json (default: both)")
    export.add_argument("--db-url", help="SQLAlchemy URL (default: $PDF_ASSETS_DB_URL or SQLite in the data dir)")
    from pdf_assets.evaluation.cli import add_eval_arguments

    add_eval_arguments(sub.add_parser("eval", help="score a run against a corpus's ground truth"))
    from pdf_assets.overlay import add_overlay_arguments

    add_overlay_arguments(sub.add_parser("overlay", help="draw a stored page's layout boxes on its page image"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    if args.command in ("demo", "run"):
        _use_passwords(args)
    from pdf_assets.overlay import run_overlay

    handlers = {
        "demo": _cmd_demo,
        "run": _cmd_run,
        "show": _cmd_show,
        "export": _cmd_export,
        "eval": _cmd_eval,
        "overlay": run_overlay,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
