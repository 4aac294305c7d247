"""Bad input never sinks a run: each PDF or folder that used to break a run becomes a
recorded document (with its error or flags) while the rest of its folder carries on."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from pdf_assets.core.errors import ConfigError
from pdf_assets.core.folders import FolderNotFoundError, folder_for_key
from pdf_assets.core.parallel import killable_map, process_map
from pdf_assets.core.pdf import EncryptedPdfError, open_pdf, set_passwords
from pdf_assets.core.types import Box, Region, RegionKey, RegionKind
from pdf_assets.stages.crops import crop_path, crops_for_pages
from pdf_assets.stages.render import HARD_MAX_PAGE_PIXELS, RenderJob, render_all, render_partitions
from tests.reliability.bad_pdfs import USER_PW, encrypted_pdf, text_pdf, truncated_pdf


def _docs(manifests: dict, key: str) -> dict[str, object]:
    return {Path(d.path).name: d for d in manifests[key].documents}


# --- Fault 1 / 7 / 10: document identity, links ---------------------------------------------


def test_identical_files_and_an_inner_link_are_three_documents_with_one_content_hash(tmp_path: Path) -> None:
    folder = tmp_path / "inbox" / "f"
    text_pdf(folder / "a.pdf")
    shutil.copy(folder / "a.pdf", folder / "a (1).pdf")
    (folder / "link.pdf").symlink_to("a.pdf")

    docs = _docs(render_partitions({"f": folder}, tmp_path / "store", workers=1, timeout_s=0), "f")

    assert sorted(docs) == ["a (1).pdf", "a.pdf", "link.pdf"]
    assert all(d.error is None and d.pages == 2 for d in docs.values())
    assert len({d.doc_id for d in docs.values()}) == 3
    assert len({d.sha256 for d in docs.values()}) == 1
    assert docs["link.pdf"].path == str((folder / "link.pdf").absolute())


def test_one_file_in_two_folders_gets_two_ids_and_two_sets_of_page_images_and_crops(tmp_path: Path) -> None:
    text_pdf(tmp_path / "x" / "same.pdf")
    shutil.copytree(tmp_path / "x", tmp_path / "y")
    result = render_partitions({"x": tmp_path / "x", "y": tmp_path / "y"}, tmp_path / "store", workers=1, timeout_s=0)

    (dx,), (dy,) = result["x"].documents, result["y"].documents
    assert dx.sha256 == dy.sha256 and dx.doc_id != dy.doc_id
    images = {p.image_path for m in result.values() for p in m.pages}
    assert len(images) == 4  # 2 pages x 2 folders, none shared
    regions = [_figure(d.doc_id, d.partition) for d in (dx, dy)]
    assert crop_path(tmp_path / "crops", regions[0]) != crop_path(tmp_path / "crops", regions[1])


def _figure(doc_id: str, partition: str) -> Region:
    return Region(RegionKey(doc_id, 0, 0), partition, "figure", RegionKind.FIGURE, Box(72, 120, 300, 260), 1.0)


def test_a_link_to_a_pdf_outside_the_inbox_is_refused_and_the_outside_path_not_stored(tmp_path: Path) -> None:
    outside = text_pdf(tmp_path / "elsewhere" / "secret.pdf")
    inbox = tmp_path / "inbox"
    folder = inbox / "f"
    text_pdf(folder / "good.pdf")
    (folder / "escape.pdf").symlink_to(outside)
    text_pdf(inbox / "g" / "shared.pdf")
    (folder / "neighbour.pdf").symlink_to(inbox / "g" / "shared.pdf")

    docs = _docs(render_partitions({"f": folder}, tmp_path / "store", workers=1, timeout_s=0, roots=[inbox]), "f")

    assert docs["escape.pdf"].error == "link points outside the inbox: refused"
    assert docs["escape.pdf"].pages == 0
    assert str(outside) not in docs["escape.pdf"].path
    assert docs["good.pdf"].error is None and docs["good.pdf"].pages == 2
    assert docs["neighbour.pdf"].error is None  # a link inside the inbox is its own document


# --- Fault 4: a missing folder fails loudly ------------------------------------------------


def test_a_missing_partition_folder_raises_instead_of_returning_no_documents(tmp_path: Path) -> None:
    text_pdf(tmp_path / "here" / "a.pdf")
    with pytest.raises(FolderNotFoundError, match="gone"):
        render_partitions({"here": tmp_path / "here", "gone": tmp_path / "gone"}, tmp_path / "store", timeout_s=0)
    assert not (tmp_path / "store").exists()  # nothing was rendered


# --- Fault 2: a page too large ---------------------------------------------------------------


@pytest.mark.parametrize("max_pixels", [8_000_000, 0])
def test_a_page_over_93_inches_is_downscaled_flagged_and_cut_without_error(tmp_path: Path, max_pixels: int) -> None:
    pdf = text_pdf(tmp_path / "f" / "huge.pdf", pages=1, size=(100 * 72, 100 * 72))  # 207 MP at 144 dpi
    manifest = render_partitions(
        {"f": tmp_path / "f"}, tmp_path / "store", workers=1, timeout_s=0, max_pixels=max_pixels
    )["f"]
    (doc,), (page,) = manifest.documents, manifest.pages
    assert doc.error is None and "downscaled" in doc.flags
    with Image.open(page.image_path) as image:  # PIL's own bomb check passes on the page image
        assert image.width * image.height <= min(max_pixels or HARD_MAX_PAGE_PIXELS, HARD_MAX_PAGE_PIXELS) * 1.01
    [crops] = crops_for_pages([(page, [_figure(doc.doc_id, "f")])], tmp_path / "crops")
    assert isinstance(crops, list) and Path(crops[0].image_path).is_file()
    assert pdf.exists()


# --- Fault 9: truncated and empty ------------------------------------------------------------


def test_a_truncated_pdf_is_flagged_repaired_with_empty_pages(tmp_path: Path) -> None:
    truncated_pdf(tmp_path / "f" / "cut.pdf")
    text_pdf(tmp_path / "f" / "whole.pdf")
    docs = _docs(render_partitions({"f": tmp_path / "f"}, tmp_path / "store", workers=1, timeout_s=0), "f")
    assert {"repaired", "pages_empty"} <= set(docs["cut.pdf"].flags)
    assert docs["whole.pdf"].flags == ()


# --- Passwords -------------------------------------------------------------------------------


def test_encrypted_pdf_without_the_password_is_a_clear_error_document(tmp_path: Path) -> None:
    encrypted_pdf(tmp_path / "f" / "locked.pdf")
    text_pdf(tmp_path / "f" / "open.pdf")
    docs = _docs(
        render_partitions({"f": tmp_path / "f"}, tmp_path / "store", workers=1, timeout_s=0, passwords=["no", "nope"]),
        "f",
    )
    error = docs["locked.pdf"].error or ""
    assert "PDF is encrypted; none of the 2 given passwords opens it" in error
    assert "nope" not in error and docs["locked.pdf"].pages == 0
    assert docs["open.pdf"].error is None


def test_encrypted_pdf_opens_with_a_given_password_and_is_flagged(tmp_path: Path) -> None:
    encrypted_pdf(tmp_path / "f" / "locked.pdf")
    result = render_partitions({"f": tmp_path / "f"}, tmp_path / "store", workers=2, passwords=["wrong", USER_PW])
    (doc,) = result["f"].documents
    assert doc.error is None and doc.pages == 2 and "encrypted" in doc.flags
    assert all(p.text_chars > 0 for p in result["f"].pages)


def _page_text(path: str) -> str:
    with open_pdf(path) as doc:
        return doc[0].get_text().strip()


def test_worker_processes_open_encrypted_pdfs_with_the_process_passwords(tmp_path: Path) -> None:
    paths = [str(encrypted_pdf(tmp_path / f"{i}.pdf")) for i in range(2)]
    with pytest.raises(EncryptedPdfError):
        open_pdf(paths[0])
    set_passwords([USER_PW])
    try:
        texts = list(process_map(_page_text, paths, workers=2))
    finally:
        set_passwords([])
    assert texts == ["Reliability test page 1"] * 2


@pytest.mark.corpus
def test_corpus_protected_pdf_opens_with_its_password(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    shutil.copy(corpus / "pdfs" / "health_protected.pdf", folder)
    locked = render_partitions({"f": folder}, tmp_path / "s1", workers=1, timeout_s=0)["f"].documents[0]
    assert locked.error and "encrypted" in locked.error
    opened = render_partitions({"f": folder}, tmp_path / "s2", workers=1, timeout_s=0, passwords=["userpass"])["f"]
    assert opened.documents[0].error is None and "encrypted" in opened.documents[0].flags
    with pymupdf.open(folder / "health_protected.pdf") as doc:
        doc.authenticate("userpass")
        assert opened.documents[0].pages == doc.page_count


# --- Fault 8: per-document time limit ---------------------------------------------------------


def _slow_or_fast(seconds: float) -> float:
    if seconds < 0:
        os._exit(3)  # a crash inside native code looks like this to the parent
    time.sleep(seconds)
    return seconds


def _error(job: float, message: str, timed_out: bool) -> str:
    return f"{'timeout' if timed_out else 'error'}: {message}"


def test_a_job_past_its_time_limit_is_killed_and_the_others_finish() -> None:
    out = list(killable_map(_slow_or_fast, [0.0, 600.0, 0.0, -1.0, 0.0], timeout_s=3, on_error=_error, workers=2))
    assert out[0] == out[2] == out[4] == 0.0
    assert out[1] == "timeout: stopped after 3 s"
    assert str(out[3]).startswith("error: worker process died")


def test_a_pdf_that_hangs_the_renderer_becomes_a_timeout_document(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    good = text_pdf(folder / "good.pdf")
    fifo = folder / "stuck.pdf"
    os.mkfifo(fifo)  # reading it blocks forever: as a PDF that keeps MuPDF busy
    jobs = [RenderJob("f", str(p), str(tmp_path / "store"), folder=str(folder)) for p in (good, fifo)]
    done, stuck = render_all(jobs, workers=2, timeout_s=3)
    assert done.document.error is None and done.document.pages == 2
    assert stuck.document.flags == ("timeout",) and stuck.document.pages == 0
    assert (stuck.document.error or "").startswith("timeout:")


# --- Fault 3: keys are names, not paths -------------------------------------------------------


@pytest.mark.parametrize("key", ["../etc", "a/b", "/tmp", "", "UPPER", ".hidden"])
def test_a_key_that_is_not_a_key_is_refused_before_it_becomes_a_path(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match="invalid partition key"):
        folder_for_key(tmp_path, key)


def test_a_linked_folder_that_leads_outside_the_inbox_is_refused(tmp_path: Path) -> None:
    text_pdf(tmp_path / "outside" / "a.pdf")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "sneaky").symlink_to(tmp_path / "outside")
    with pytest.raises(ConfigError, match="outside the inbox"):
        folder_for_key(tmp_path / "inbox", "sneaky")
