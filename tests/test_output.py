"""What a user reads and scripts from ``lava-mlsnn train``: with stdout redirected to a file and
stderr a terminal (bars drawn there), the file holds one formatted line per epoch, and the
summary counts epochs in words ("1 epoch")."""
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading

from lava_mlsnn.train import runlog
from trainkit import ROOT, shared_cache, subprocess_env, tiny

CLI = [sys.executable, "-m", "lava_mlsnn.cli"]
EPOCH = re.compile(r"^epoch (\d+)/(\d+): loss (\S+), train acc (\d+\.\d\d) %, "
                   r"val acc (\d+\.\d\d) %, \d+ events/sample, \d+\.\d s$")


def _train_with_a_terminal_stderr(tmp_path, cache, epochs):
    """Run the real command: stdout to a file, stderr to a pseudo-terminal (drained)."""
    master, slave = pty.openpty()
    # a terminal 80 columns wide (a new pty has 0, where tqdm draws nothing)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = []

    def drain():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed its end
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    args = [a for a in tiny(cache, epochs=epochs) if a != "--no-progress"]
    out = tmp_path / "train.log"
    env = dict(subprocess_env(), PYTHONPATH=ROOT)
    with open(out, "w") as f:
        rc = subprocess.run(CLI + ["train", *args, "--set", f"output.dir={tmp_path / 'run'}"],
                            stdout=f, stderr=slave, cwd=tmp_path, env=env, timeout=300).returncode
    os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    return rc, out.read_text(), b"".join(seen).decode(errors="replace")


def test_redirected_log_holds_one_formatted_line_per_epoch(tmp_path, tmp_path_factory):
    rc, log, err = _train_with_a_terminal_stderr(tmp_path, shared_cache(tmp_path_factory), 2)
    assert rc == 0, err[-2000:]
    assert "epoch 1/2" in err and "sample" in err  # the bars went to the terminal
    lines = [line for line in log.splitlines() if line.startswith("epoch ")]
    matches = [EPOCH.match(line) for line in lines]
    assert all(matches), lines
    assert [(m.group(1), m.group(2)) for m in matches] == [("1", "2"), ("2", "2")]
    for m in matches:
        loss = m.group(3)
        assert len(loss.replace(".", "").lstrip("0")) == 4, loss  # 4 significant digits
        assert 0 <= float(m.group(4)) <= 100 and 0 <= float(m.group(5)) <= 100
    assert " 2 epochs in " in log


def test_epoch_words_and_figures():
    assert runlog.plural(1, "epoch") == "1 epoch" and runlog.plural(3, "epoch") == "3 epochs"
    rec = {"epoch": 1, "loss": 0.012345678, "train_acc": 0.5, "val_acc": 0.6643356643356644,
           "train_events": 1316.7, "epoch_s": 1.04}
    assert runlog.format_epoch(rec, 1) == ("epoch 1/1: loss 0.01235, train acc 50.00 %, "
                                           "val acc 66.43 %, 1317 events/sample, 1.0 s")
    rec.update(val_acc=None, loss=2.3)
    assert "loss 2.300, " in runlog.format_epoch(rec, 1)
    assert "val acc -, " in runlog.format_epoch(rec, 1)
    summary = {"run_dir": "r", "dataset": "digits", "samples": {"train": 1, "val": 1, "test": 1},
               "input_shape": [2, 4, 4], "timesteps": 1, "arch": "mlp", "levels": 4,
               "parameters": 10, "epochs": 1, "train_s": 1.0, "samples_per_s": 1.0,
               "world_size": 1, "device": "cpu", "best_epoch": 1, "selected_on": "val",
               "best_val_acc": 0.5, "test_acc_float": 0.5, "test_acc_quantized": 0.5,
               "activity": {"events": 1, "payload": 1, "synops": 1}}
    assert " 1 epoch in 1 s " in runlog.format_summary(summary)


class _Tty:
    def isatty(self):
        return True


def test_epoch_lines_unless_the_bar_shares_the_log_terminal(tmp_path):
    assert runlog.epoch_lines(False, _Tty())          # no bars: lines everywhere
    assert not runlog.epoch_lines(True, _Tty())       # bar kept on the same terminal
    with open(tmp_path / "f", "w") as f:
        assert runlog.epoch_lines(True, f)            # log redirected: a line per epoch
