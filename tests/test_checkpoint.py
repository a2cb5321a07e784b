"""Checkpoints: weights-only loading, checksum, finite values, fallback to the previous one."""
from __future__ import annotations

import os
import random
import zipfile

import numpy as np
import pytest
import torch

from trainkit import TRAIN_SCRIPT, load_script, shared_cache, tiny
from lava_mlsnn.train import config as C
from lava_mlsnn.train.checkpoint import (CheckpointError, load_checkpoint, pack_rng,
                                         previous_path, save_checkpoint, unpack_rng)


class _Payload:
    """Pickles to a call of ``os.system`` (what a hostile checkpoint would carry)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _state(epoch: int, w: float = 0.5):
    return {"format": "test", "epoch": epoch, "model": {"w": torch.full((4, 3), w)},
            "history": [{"loss": 0.25, "val_acc": None}], "rng": pack_rng()}


def _flip_tensor_byte(path: str) -> None:
    """Flip one byte inside the stored weight tensor (not in the pickle structure)."""
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename
                    and i.file_size == 4 * 12)
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 26)  # the local header's name and extra lengths
        n_name, n_extra = np.frombuffer(f.read(4), dtype="<u2")
        f.seek(info.header_offset + 30 + int(n_name) + int(n_extra) + 5)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x40]))


def test_roundtrip_restores_every_rng(tmp_path):
    path = str(tmp_path / "ck.pt")
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    save_checkpoint(_state(1), path)
    expect = (random.random(), np.random.rand(), torch.rand(1).item())
    state, used = load_checkpoint(path, "test")
    assert used == path and state["epoch"] == 1
    unpack_rng(state["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expect


def test_pickle_payload_is_refused_and_not_run(tmp_path):
    marker = str(tmp_path / "pwned")
    path = str(tmp_path / "evil.pt")
    torch.save({"format": "test", "model": {}, "x": _Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="unreadable checkpoint"):
        load_checkpoint(path, "test")
    assert not os.path.exists(marker)


def test_corrupted_latest_falls_back_to_the_previous(tmp_path):
    path = str(tmp_path / "last.pt")
    save_checkpoint(_state(1, 0.25), path)
    save_checkpoint(_state(2, 0.75), path)
    assert os.path.exists(previous_path(path))
    _flip_tensor_byte(path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, "test", fallback=False)
    with pytest.warns(RuntimeWarning, match="using the previous checkpoint"):
        state, used = load_checkpoint(path, "test")
    assert used == previous_path(path) and state["epoch"] == 1
    assert torch.equal(state["model"]["w"], torch.full((4, 3), 0.25))


def test_non_finite_weights_are_refused(tmp_path):
    path = str(tmp_path / "last.pt")
    save_checkpoint(_state(1, float("nan")), path, keep_previous=False)
    with pytest.raises(CheckpointError, match="non-finite values in model.w"):
        load_checkpoint(path, "test")


def test_training_script_refuses_a_payload_and_restarts_a_run_without_checkpoint(
        tmp_path_factory, tmp_path, capsys):
    train = load_script(TRAIN_SCRIPT, "train_dvs_checkpoint_test")
    cache = shared_cache(tmp_path_factory)
    sets = tiny(cache, epochs=1)[1:]
    config = C.resolve([], [s for s in sets if s != "--set"])
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    C.dump(config, str(run / "config.yaml"))
    marker = str(tmp_path / "pwned")
    torch.save({"format": "lava-mlsnn-run-v1", "x": _Payload(marker)},
               str(run / "checkpoints" / "last.pt"))
    assert train.main(["--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unreadable checkpoint" in err[0], err
    assert not os.path.exists(marker)
    os.unlink(run / "checkpoints" / "last.pt")  # as a run killed during its first epoch
    assert train.main(["--resume", str(run), "--no-progress"]) == 0
    assert "has no checkpoint yet; starting its run from epoch 1" in capsys.readouterr().out
    state, _ = load_checkpoint(str(run / "checkpoints" / "last.pt"), "lava-mlsnn-run-v1")
    assert state["epoch"] == 1
