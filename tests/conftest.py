"""Shared test fixtures: the real media in ../shared/media (never copied into the repository)."""
from __future__ import annotations

from pathlib import Path

import pytest

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


@pytest.fixture(scope="session")
def media() -> Path:
    """Folder of the shared test media (audio/, video/); CI puts ../shared beside the clone."""
    if not MEDIA.is_dir():
        raise RuntimeError(f"test media not found at {MEDIA}: ../shared/media must sit beside the repository")
    return MEDIA
