"""Data sets by name (registry, any tonic set), N-MNIST's first saccade, DVS Gesture's
validation split by user, absolute data roots, and inspect --energy on a named set; all
on small files written in each set's genuine on-disk format."""
import os

import numpy as np
import pytest
import tonic

from lava_mlsnn.cli import main
from lava_mlsnn.data import load_dataset, register_dataset, resolve_dataset
from lava_mlsnn.format import write_network
from lava_mlsnn.format.random_net import random_network
from lava_mlsnn.train import config as C
from test_data_tonic import (assert_same_events, no_network, random_events,  # noqa: F401
                             write_dvsgesture_npy, write_nmnist_bin)
from trainkit import TRAIN_SCRIPT, load_script


def _gesture_users(root, users=6, per_user=2):
    for u in range(1, users + 1):
        for k in range(per_user):
            write_dvsgesture_npy(root / "DVSGesture" / "ibmGestureTrain" /
                                 f"user{u:02d}_led" / f"{k}.npy",
                                 random_events(10 * u + k, 30, 128, 128, t_unit=1000))


def _users(ds):
    return {os.path.basename(os.path.dirname(f)).split("_")[0] for f in ds.files}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dvsgesture_validation_holds_out_whole_users(tmp_path, seed):
    _gesture_users(tmp_path)
    full = load_dataset("dvsgesture", str(tmp_path), "train")
    train = load_dataset("dvsgesture", str(tmp_path), "train", val_fraction=0.3,
                         split_seed=seed)
    val = load_dataset("dvsgesture", str(tmp_path), "val", val_fraction=0.3, split_seed=seed)
    assert len(_users(val)) == 2 and not _users(train) & _users(val)  # round(0.3 * 6) users
    assert sorted(train.files + val.files) == sorted(full.files)
    again = load_dataset("dvsgesture", str(tmp_path), "val", val_fraction=0.3, split_seed=seed)
    assert again.files == val.files


def test_nmnist_first_saccade_only(tmp_path):
    # N-MNIST's three saccades take ~100 ms each; tonic keeps t < 100 ms for the first
    rng = np.random.default_rng(0)
    ev = random_events(0, 300, 34, 34)
    ev["t"] = np.sort(rng.choice(np.arange(1, 300_000), 300, replace=False))
    for split in ("Train", "Test"):
        write_nmnist_bin(tmp_path / "NMNIST" / split / "3" / "00001.bin", ev)
    whole = load_dataset("nmnist", str(tmp_path), "test")[0][0]
    first = load_dataset("nmnist", str(tmp_path), "test", first_saccade_only=True)[0][0]
    assert len(whole) == 300 and 0 < len(first) < 150 and first["t"].max() < 100_000
    assert_same_events(first, ev[ev["t"] < 100_000])
    cfg = C.resolve([], ["data.dataset=nmnist", f"data.root={tmp_path}",
                         "data.first_saccade_only=true"])
    assert cfg["data"]["first_saccade_only"] is True
    with pytest.raises(C.ConfigError, match="first_saccade_only applies to"):
        C.resolve([], ["data.first_saccade_only=true"])


def _poker(root, split, cls, seed):
    """tonic's POKERDVS layout: pips_<split>/<...><class>/<n>.npy, columns t, x, y, p."""
    ev = random_events(seed, 40, 35, 35)
    path = root / "POKERDVS" / f"pips_{split}" / f"pips{cls}" / f"{seed}.npy"
    os.makedirs(path.parent, exist_ok=True)
    np.save(path, np.stack([ev["t"], ev["x"], ev["y"], ev["p"]], 1).astype(np.int64))
    return ev


def test_any_tonic_data_set_by_name(tmp_path):
    written = {("train", "cl", 1): None, ("train", "he", 2): None, ("test", "sp", 3): None}
    for key in written:
        written[key] = _poker(tmp_path, *key)
    train = load_dataset("Poker-DVS", str(tmp_path), "train")
    assert isinstance(train._tonic, tonic.datasets.POKERDVS)
    assert train.sensor_size == (35, 35, 2) and train.classes == ["cl", "he", "di", "sp"]
    assert sorted(train.targets) == [0, 1]
    test = load_dataset("pokerdvs", str(tmp_path), "test")
    assert list(test.targets) == [3]
    assert_same_events(test[0][0], written[("test", "sp", 3)])
    assert C.resolve([], ["data.dataset=pokerdvs", f"data.root={tmp_path}"])
    with pytest.raises(ValueError, match="unknown data set 'nosuchset'"):
        resolve_dataset("nosuchset")


def test_register_dataset_with_sensor_size_and_classes(tmp_path):
    register_dataset("poker4", tonic.datasets.POKERDVS, sensor_size=(35, 35, 1),
                     classes=["clubs", "hearts", "diamonds", "spades"], extension=".npy")
    _poker(tmp_path, "train", "di", 4)
    ds = load_dataset("poker4", str(tmp_path), "train")
    assert ds.sensor_size == (35, 35, 1) and ds.classes[2] == "diamonds"
    assert list(ds.targets) == [2]


def test_data_root_is_stored_absolute(tmp_path, monkeypatch, capsys):
    train = load_script(TRAIN_SCRIPT, "train_dvs_abs_root")
    monkeypatch.chdir(tmp_path)
    assert train.main(["--print-config", "--set", "data.dataset=nmnist", "--set",
                       "data.root=data", "--set", "data.cache_dir=cache"]) == 0
    out = capsys.readouterr().out
    assert f"root: {tmp_path / 'data'}" in out and f"cache_dir: {tmp_path / 'cache'}" in out


def test_inspect_energy_on_a_named_data_set(tmp_path, capsys):
    ev = random_events(5, 400, 34, 34)
    for i in range(3):
        write_nmnist_bin(tmp_path / "NMNIST" / "Test" / str(i) / f"{i:05d}.bin", ev)
    spec = random_network(2, levels=2, conv=True, input_shape=(2, 16, 16), input_levels=2,
                          timesteps=2)
    net = str(tmp_path / "net.h5")
    write_network(spec, net)
    capsys.readouterr()
    assert main(["inspect", net, "--energy", "--dataset", "nmnist", "--root", str(tmp_path),
                 "--samples", "3"]) == 0
    out = capsys.readouterr().out
    assert "on the nmnist test split (3 samples, T=2)" in out and "synaptic operations" in out
    assert main(["inspect", net, "--energy", "--dataset", "nmnist", "--root",
                 str(tmp_path / "missing")]) == 2
    assert main(["inspect", net, "--energy", "--dataset", "nosuchset"]) == 2
