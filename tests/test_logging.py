"""Library code logs (no print); progress bars only on a terminal, else one line per
epoch; the command's -v / -q set the level."""
import ast
import io
import logging
import os

import pytest
import torch

import lava_mlsnn
from lava_mlsnn import _log
from lava_mlsnn.cli import main
from lava_mlsnn.format import write_network
from lava_mlsnn.format.random_net import random_network
from lava_mlsnn.train import fit
from netfactory import random_training_net
from trainkit import TRAIN_SCRIPT, load_script, shared_cache, tiny

#: the command front-ends, which print their reports (the cli/ package and these files)
COMMANDS = {"demo.py", os.path.join("train", "command.py"),
            os.path.join("train", "export_command.py")}


def test_library_modules_do_not_print():
    root = os.path.dirname(lava_mlsnn.__file__)
    offenders = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if not name.endswith(".py") or rel in COMMANDS or rel.startswith("cli" + os.sep):
                continue
            for node in ast.walk(ast.parse(open(path).read())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                    offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, offenders


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_bars_only_on_a_terminal():
    assert _log.show_progress(True, _Tty()) is True
    assert _log.show_progress(False, _Tty()) is False
    assert _log.show_progress(True, io.StringIO()) is False


def test_fit_logs_one_line_per_epoch_without_a_terminal(caplog, capsys):
    net, x = random_training_net(3, 2, 2, conv=False, train_steps=0)
    y = torch.zeros(len(x), dtype=torch.long)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=3)
    with caplog.at_level(logging.INFO, logger="lava_mlsnn"):
        history = fit(net, loader, 2, lr=1e-3, progress=True)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("lava_mlsnn.train")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert len(history) == 2  # the history is kept
    assert "it/s" not in capsys.readouterr().err  # no bar drawn into a file or pipe


def test_verbosity_flags(tmp_path, capsys):
    path = str(tmp_path / "n.h5")
    write_network(random_network(0, conv=False), path)
    logger = logging.getLogger("lava_mlsnn")
    assert main(["-q", "validate", path]) == 0
    assert logger.level == logging.WARNING
    assert main(["-v", "validate", path]) == 0
    assert logger.level == logging.DEBUG
    assert main(["validate", path]) == 0
    assert logger.level == logging.INFO
    logging.getLogger("lava_mlsnn.test").info("a line")
    assert "a line" in capsys.readouterr().out


def test_tensorboard_scalars_per_epoch(tmp_path, tmp_path_factory):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    train = load_script(TRAIN_SCRIPT, "train_dvs_tensorboard")
    run = tmp_path / "run"
    assert train.main(tiny(shared_cache(tmp_path_factory), epochs=2)
                      + ["--set", f"output.dir={run}", "--set", "train.tensorboard=true"]) == 0
    acc = EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == [1, 2] and all(e.value > 0 for e in loss)
    assert "train/val_acc" in acc.Tags()["scalars"]
