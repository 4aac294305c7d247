"""Faults that the system already withstood when first probed, pinned down so they keep holding:
a writer killed inside its transaction, re-runs and concurrent writers, hostile PDFs, SQL
built from strings, model loading, and the webserver's address. Database cases run on
SQLite and on PostgreSQL."""

from __future__ import annotations

import ast
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance
from sqlalchemy import Engine, text

from pdf_assets.backends.hf import loading
from pdf_assets.core.bundle import RunBundle
from pdf_assets.core.config import ModelSpec
from pdf_assets.defs.resources import PdfAssetsResource
from pdf_assets.stages.render import render_partitions
from pdf_assets.storage.db import init_db, make_engine, session_scope
from pdf_assets.storage.queries import row_counts
from pdf_assets.storage.repository import replace_partitions
from tests.dagster.pipeline_helpers import make_resource, run_job
from tests.reliability.bad_pdfs import text_pdf
from tests.reliability.held_kill import POINTS, new_bundle
from tests.reliability.held_pdfs import HOSTILE
from tests.unit.test_bulk_write import expected, row_counts_of, stored, tricky_bundle

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pdf_assets"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    init_db(eng)
    yield eng
    eng.dispose()


def _write(engine: Engine, bundle: RunBundle) -> None:
    with session_scope(engine) as session:
        replace_partitions(session, bundle)


def _counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return row_counts(session)


# --- 1. SIGKILL inside the open write transaction --------------------------------------------


@pytest.mark.parametrize("point", POINTS)
def test_a_writer_killed_inside_its_transaction_leaves_exactly_the_old_rows(
    engine: Engine, db_url: str, point: str
) -> None:
    old, other = tricky_bundle("a", run_id="run-old"), tricky_bundle("b", run_id="run-b")
    _write(engine, old)
    _write(engine, other)
    before = _counts(engine)

    child = subprocess.run(
        [sys.executable, "-m", "tests.reliability.held_kill", db_url, point],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert child.returncode == -signal.SIGKILL, child.stderr  # it died mid-write, it did not commit
    assert _counts(engine) == before
    assert stored(engine, old) == expected(old) and stored(engine, other) == expected(other)
    _write(engine, new_bundle())  # nothing left locked: the next run replaces the partition
    assert stored(engine, new_bundle()) == expected(new_bundle())


# --- 2. Re-runs equal clean runs; concurrent writers of one partition ------------------------


def _stale(bundle: RunBundle) -> RunBundle:
    """The same partition as an earlier run wrote it: other text, one document fewer."""
    broken = bundle.documents[-1]
    return replace(
        bundle,
        run_id="run-stale",
        documents=bundle.documents[:-1],
        failures=tuple(f for f in bundle.failures if f.item != broken.path),
        texts=tuple(replace(t, text="stale") for t in bundle.texts),
    )


def test_a_rerun_stores_exactly_what_a_clean_run_stores(engine: Engine) -> None:
    rerun, clean = tricky_bundle("a", run_id="run-a"), tricky_bundle("c", run_id="run-c")
    _write(engine, _stale(rerun))
    _write(engine, tricky_bundle("b", run_id="run-b"))
    _write(engine, rerun)
    _write(engine, clean)  # the same content into a partition that never held rows

    assert stored(engine, rerun) == stored(engine, clean) == expected(rerun)
    per_run = row_counts_of(rerun)
    assert _counts(engine) == {k: 3 * v for k, v in per_run.items()} | {"stage_metrics": 4 * per_run["stage_metrics"]}


def test_two_writers_of_one_partition_at_once_leave_one_of_them_whole(engine: Engine) -> None:
    first = tricky_bundle("a", run_id="run-1")
    second = replace(tricky_bundle("a", run_id="run-2"), texts=tuple(replace(t, text="two") for t in first.texts))
    barrier = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def run(bundle: RunBundle) -> None:
        try:
            barrier.wait()
            _write(engine, bundle)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    rows = stored(engine, first)  # `first` only names the partition; failures are read per run below
    assert rows in ({**expected(b), "failures": rows["failures"]} for b in (first, second))
    counts = _counts(engine)
    assert counts == {**row_counts_of(first), "stage_metrics": 2, "failures": counts["failures"]}
    assert counts["failures"] == len(first.failures)  # the loser's failures were replaced too


# --- 3. Hostile PDFs next to a good one ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_pdf_becomes_an_error_document_and_its_neighbour_renders(tmp_path: Path, name: str) -> None:
    write, error_word = HOSTILE[name]
    folder = tmp_path / "inbox" / "f"
    text_pdf(folder / "good.pdf")
    write(folder / f"{name}.pdf")

    manifest = render_partitions({"f": folder}, tmp_path / "store", workers=1, timeout_s=60)["f"]

    docs = {Path(d.path).stem: d for d in manifest.documents}
    assert docs["good"].error is None and docs["good"].pages == 2
    bad = docs[name]
    if error_word is None:  # rendered safely: one page, a bounded image
        assert bad.error is None and bad.pages == 1
    else:
        assert bad.pages == 0 and bad.error and error_word in bad.error, bad.error
    assert sum(p.doc_id == docs["good"].doc_id for p in manifest.pages) == 2


def test_hostile_pdfs_in_one_folder_are_stored_as_errors_and_the_good_one_fully(tmp_path: Path, db_url: str) -> None:
    folder = tmp_path / "inbox" / "hostile"
    for name, (write, _) in HOSTILE.items():
        write(folder / f"{name}.pdf")
    text_pdf(folder / "good.pdf")
    text_pdf(tmp_path / "inbox" / "clean" / "good.pdf")
    resource = _resource(tmp_path, db_url)

    assert run_job(resource, DagsterInstance.ephemeral(), ["clean", "hostile"]).success
    rows = _documents(resource)

    errors = {name for name, (_, word) in HOSTILE.items() if word}
    assert {n for n, (status, error, _) in rows["hostile"].items() if status == "error" and error} == errors
    assert rows["hostile"]["good"] == (*rows["clean"]["good"][:2], 2) and rows["clean"]["good"][0] == "ok"
    # rendered safely, but its one page came out blank with no text layer: partial, not ok
    assert rows["hostile"]["image_bomb"][::2] == ("partial", 1)
    assert _regions(resource, "hostile", "good") == _regions(resource, "clean", "good") > 0


def _resource(tmp_path: Path, db_url: str) -> PdfAssetsResource:
    base = make_resource(tmp_path, tmp_path / "inbox", db_url=db_url)
    return PdfAssetsResource(**{**base.model_dump(), "render_workers": 1, "sensor_settle_s": 0})  # type: ignore[arg-type]


def _documents(resource: PdfAssetsResource) -> dict[str, dict[str, tuple[str, str | None, int]]]:
    engine = make_engine(resource.database_url())
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT partition, path, status, error, pages FROM documents"))
            out: dict[str, dict[str, tuple[str, str | None, int]]] = {}
            for partition, path, status, error, pages in rows:
                out.setdefault(str(partition), {})[Path(str(path)).stem] = (str(status), error, int(pages))
            return out
    finally:
        engine.dispose()


def _regions(resource: PdfAssetsResource, partition: str, stem: str) -> int:
    engine = make_engine(resource.database_url())
    try:
        with engine.connect() as conn:
            query = (
                "SELECT count(*) FROM regions r JOIN pages p ON p.id = r.page_id "
                "JOIN documents d ON d.id = p.document_id WHERE d.partition = :p AND d.path LIKE :path"
            )
            return int(conn.execute(text(query), {"p": partition, "path": f"%/{stem}.pdf"}).scalar_one())
    finally:
        engine.dispose()


# --- 4. No SQL built from strings ------------------------------------------------------------

#: calls whose first argument is SQL text
SQL_SINKS = {"text", "execute", "exec_driver_sql", "DDL", "CheckConstraint", "literal_column", "copy"}
#: SQLAlchemy constructs: an argument built by one of these is a statement, not a string
CONSTRUCTS = {"select", "insert", "update", "delete", "text", "func", "union", "exists"}
#: (file, function, argument) whose SQL is built from strings on purpose, and why that is safe
SAFE_BUILT_SQL = {
    # Identifiers come from the table metadata, quoted by the dialect; values go as parameters.
    ("storage/bulk.py", "_write", "statement"),
    # CHECK constraints from the schema's own constant tuples (DOCUMENT_STATUSES...), no input.
    ("storage/schema.py", "<module>", "_in(...)"),
}


def _name(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _built(node: ast.expr) -> bool:
    """An f-string, `%` or `+` on strings, or `.format()`: SQL assembled at run time."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return True
    return isinstance(node, ast.Call) and _name(node.func) == "format"


def _assigned(scope: ast.AST, name: str) -> list[ast.expr]:
    return [
        n.value
        for n in ast.walk(scope)
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)
    ]


def _label(arg: ast.expr, scope: ast.AST) -> str | None:
    """How `arg` is dangerous ("name", "helper(...)", or the code itself), None when it is not.

    A plain function call other than a SQLAlchemy construct may return any string, so it is
    reported; method calls (`select(...).where(...)`) build statements and are not.
    """
    if isinstance(arg, ast.Name):
        return arg.id if any(_built(v) for v in _assigned(scope, arg.id)) else None
    if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id not in CONSTRUCTS:
        return f"{arg.func.id}(...)"
    return ast.unparse(arg) if _built(arg) else None


def _is_sink(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and node.args and _name(node.func) in SQL_SINKS):
        return False
    callee = ast.unparse(node.func)
    if _name(node.func) == "copy":
        return callee == "cursor.copy"  # not shutil.copy or dict.copy
    return _name(node.func) != "text" or callee in {"text", "sa.text", "sqlalchemy.text"}  # not MetadataValue.text


def built_sql(source: str) -> list[tuple[str, str]]:
    """(enclosing function, argument) for each SQL sink whose SQL is assembled from strings."""
    tree = ast.parse(source)
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    found, seen = set(), set()
    for scope in sorted(functions, key=lambda f: -f.lineno):  # innermost first: nested defs own their calls
        for node in (n for n in ast.walk(scope) if _is_sink(n) and id(n) not in seen):
            seen.add(id(node))
            if (label := _label(node.args[0], scope)) is not None:  # type: ignore[attr-defined]
                found.add((scope.name, label))
    for node in (n for n in ast.walk(tree) if _is_sink(n) and id(n) not in seen):
        if (label := _label(node.args[0], tree)) is not None:  # type: ignore[attr-defined]
            found.add(("<module>", label))
    return sorted(found)


def test_no_sql_is_built_from_strings_except_the_documented_constant_ones() -> None:
    found = {
        (str(path.relative_to(PACKAGE)), *hit)
        for path in sorted(PACKAGE.rglob("*.py"))
        for hit in built_sql(path.read_text(encoding="utf-8"))
    }
    assert found - SAFE_BUILT_SQL == set(), "SQL built from strings; pass values as bound parameters"
    assert found >= SAFE_BUILT_SQL, "an allowed exception is gone: remove it from SAFE_BUILT_SQL"


@pytest.mark.parametrize(
    "code",
    [
        "session.execute(text(f\"DELETE FROM documents WHERE partition = '{key}'\"))",
        "conn.exec_driver_sql('SELECT * FROM pages WHERE id = %s' % page_id)",
        "q = 'SELECT ' + column\nconn.execute(text(q))",
        "conn.execute(text('SELECT {}'.format(column)))",
    ],
)
def test_the_sql_scan_catches_sql_built_from_strings(code: str) -> None:
    assert built_sql(f"def f():\n{''.join('    ' + line + chr(10) for line in code.splitlines())}")
    assert not built_sql("def f():\n    conn.execute(text('SELECT * FROM pages WHERE id = :id'), {'id': 1})\n")


# --- 5. Model loading runs no code from the checkpoint ---------------------------------------


class _Trap:
    """Unpickling this creates `marker`: a pickled checkpoint that runs code when loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_pretrained_passes_no_trust_remote_code_and_leaves_safetensors_preferred() -> None:
    calls: list[dict[str, object]] = []
    spec = ModelSpec(stage="figures", backend="hf", model="org/model", revision="abc123")
    loading.pretrained(lambda model, **kwargs: calls.append(kwargs), spec, "weights", dtype="auto")
    (kwargs,) = calls
    assert not kwargs.get("trust_remote_code", False)
    assert kwargs.get("use_safetensors", True) is not False
    assert "trust_remote_code" not in loading.KNOWN_OPTIONS["figures"] | loading.KNOWN_OPTIONS["layout"]


def test_no_backend_turns_on_remote_code_or_pickled_weights() -> None:
    risky = []
    for path in sorted((PACKAGE / "backends").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "trust_remote_code":
                risky.append(f"{path.name}: trust_remote_code={ast.unparse(node.value)}")
            if isinstance(node, ast.keyword) and node.arg == "use_safetensors":
                risky.append(f"{path.name}: use_safetensors={ast.unparse(node.value)}")
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                risky.append(f"{path.name}: {ast.unparse(node)}")
    assert risky == []


def test_a_local_checkpoint_loads_its_safetensors_and_never_unpickles_a_bin_beside_it(tmp_path: Path) -> None:
    import pickle

    import torch
    from transformers import ViTForImageClassification

    from tests.backends.tiny_models import build_figure_classifier

    folder = build_figure_classifier(tmp_path / "clf")
    assert (folder / "model.safetensors").is_file()
    marker = tmp_path / "code-ran"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Trap(marker)))
    saved = ViTForImageClassification.from_pretrained(folder, use_safetensors=True).state_dict()

    spec = ModelSpec(stage="figures", backend="hf", model=str(folder))
    model = loading.pretrained(ViTForImageClassification.from_pretrained, spec, "classifier")

    assert not marker.exists()
    assert all(torch.equal(value, saved[name]) for name, value in model.state_dict().items())


# --- 6. The webserver listens on localhost ---------------------------------------------------

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _hosts(command: str) -> list[str]:
    return re.findall(r"(?:^|\s)(?:-h|--host|--dagit-host)[\s=]+(\S+)", command)


def test_the_ui_commands_bind_the_webserver_to_localhost() -> None:
    from dagster._cli.dev import dev_command
    from dagster_webserver.cli import DEFAULT_WEBSERVER_HOST

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nui:", 1)[1].split("\n\n", 1)[0]
    readme = [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if "dagster dev" in line]
    commands = [line for line in recipe.splitlines() if "dagster dev" in line] + readme
    assert commands, "no `dagster dev` command found in the Makefile's ui target or the README"
    assert all(set(_hosts(c)) <= LOOPBACK for c in commands), commands
    # Where a command names no host, dagster dev passes none and the webserver's default applies.
    (host,) = [p for p in dev_command.params if p.name == "host"]
    assert not isinstance(host.default, str) or host.default in LOOPBACK
    assert DEFAULT_WEBSERVER_HOST in LOOPBACK
    assert "host:" not in (ROOT / "workspace.yaml").read_text(encoding="utf-8")  # no code server on another address
