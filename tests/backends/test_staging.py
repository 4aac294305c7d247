"""When upload-ahead applies: only on a GPU, with a processor that runs there, unless disabled."""

from __future__ import annotations

import pytest

from pdf_assets.backends.hf.staging import side_stream, upload_ahead_enabled


def test_no_side_stream_off_the_gpu_or_with_a_cpu_processor() -> None:
    assert side_stream("cpu", fast_processor=True) is None
    assert side_stream("cuda:0", fast_processor=False) is None


def test_upload_ahead_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDF_ASSETS_UPLOAD_AHEAD", "0")
    assert not upload_ahead_enabled()
    assert side_stream("cuda:0", fast_processor=True) is None
    monkeypatch.delenv("PDF_ASSETS_UPLOAD_AHEAD")
    assert upload_ahead_enabled()
