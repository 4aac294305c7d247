"""Fixtures of the `gpu` tier: the backend tests' tiny checkpoints, re-exported so the GPU
tier runs the very models the CPU tests do. Each test module of this directory marks itself
`gpu` and skips without CUDA, so CPU-only CI collects and skips it cleanly."""

from __future__ import annotations

from tests.backends.conftest import tiny_models

__all__ = ["tiny_models"]
