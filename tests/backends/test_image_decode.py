"""The two image decoders the hf backends use must agree pixel for pixel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pdf_assets.backends.hf.detection import open_all, read_rgb_arrays


def test_opencv_and_pil_decode_the_same_rgb_pixels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    paths = []
    for i, mode in enumerate(("RGB", "L", "RGBA")):
        pixels = rng.integers(0, 255, size=(37, 53, len(mode)), dtype=np.uint8)
        path = tmp_path / f"{i}.png"
        Image.fromarray(pixels.squeeze(), mode=None).convert(mode).save(path)
        paths.append(str(path))
    arrays = read_rgb_arrays(paths)
    images = open_all(paths)
    for array, image in zip(arrays, images, strict=True):
        assert array.shape == (37, 53, 3) and array.dtype == np.uint8
        np.testing.assert_array_equal(array, np.asarray(image))
