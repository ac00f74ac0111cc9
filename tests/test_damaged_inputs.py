"""Issue 13 (h): damaged videos made by benchmarks/damaged_inputs.py, through `analyze` and `batch`:
no traceback, no native log line, bounded time, a row or one error line for every file.
(A subset of the sweep; the full 35-file run is `python benchmarks/damaged_inputs.py`.)"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from damaged_inputs import check_analyze, check_batch, make_damaged  # noqa: E402

SUBSET = ["trunc_3.mp4", "hdrflip_3.mp4", "payflip_0.mp4", "moovflip_0.mp4", "notes.mp4", "zero.mp4",
          "huge_largesize.mp4", "huge_stsz.mp4"]


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    full = tmp_path_factory.mktemp("damaged_all")
    made = make_damaged(full)
    assert len(made) >= 30
    sub = tmp_path_factory.mktemp("damaged")
    for n in SUBSET:
        shutil.copy(full / n, sub / n)
    return sub


def test_batch_gives_every_damaged_file_a_row(damaged, tmp_path):
    res = check_batch(damaged, tmp_path / "b", SUBSET, limit_s=300)
    assert res["ok"], res
    assert res["rows"] == len(SUBSET) and res["statuses"].get("error", 0) >= 4
    assert res["max_clip_s"] < 60


@pytest.mark.parametrize("name", ["payflip_0.mp4", "huge_stsz.mp4", "zero.mp4", "trunc_3.mp4"])
def test_analyze_gives_a_result_or_one_line(damaged, tmp_path, name):
    res = check_analyze(damaged / name, tmp_path / "a", limit_s=60)
    assert res["ok"], res
