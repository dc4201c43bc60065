"""Test configuration: offscreen Qt, a private dataset cache, and the real-data locations."""

from __future__ import annotations

import os
from pathlib import Path

# Set before anything imports Qt, so GUI tests never need a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

# One intra-op thread: the tiny models here gain little from more, and on a shared or busy
# machine oversubscribed OpenMP threads make training many times slower, not faster.
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
# beside the project, or beside the folder of worktrees the project may be checked out in
OMNIGLOT_DIR = next(
    (
        p / "shared" / "data" / "omniglot"
        for p in (ROOT.parent, ROOT.parent.parent)
        if (p / "shared" / "data" / "omniglot").is_dir()
    ),
    ROOT.parent / "shared" / "data" / "omniglot",
)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Datasets are cached in a per-session folder, never in the user's ~/.cache."""
    path = tmp_path_factory.mktemp("workbench-cache")
    os.environ["WORKBENCH_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def omniglot_dir() -> Path:
    """The real Omniglot subsets shipped beside the project (skipped where absent)."""
    zips = sorted(OMNIGLOT_DIR.glob("images_background_small*.zip"))
    if not zips:
        pytest.skip(f"real Omniglot subsets not found in {OMNIGLOT_DIR} (CI has them)")
    return OMNIGLOT_DIR


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module: its tiny models run faster without a second OpenMP
    thread, far faster on a loaded machine where that thread waits for a descheduled peer (and
    it is what the app does on a 2-core machine, leaving a core for the GUI)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
