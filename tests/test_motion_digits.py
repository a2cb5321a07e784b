"""Motion digits: deterministic events in tonic's format, the split, and the design claim
that one count frame (T = 1) cannot tell the order of motion while T = 2 can."""
import numpy as np
import pytest
from sklearn.datasets import load_digits

from lava_mlsnn.data import (EVENT_DTYPE, MOTION_CLASSES, MotionDigitsConfig, MotionDigitsDVS,
                             ToCountFrames, load_dataset, render_motion_digits)

IMAGES = load_digits().images[:12] / 16.0
LABELS = load_digits().target[:12]


def test_render_is_deterministic_for_a_seed_and_labels_are_digit_times_order():
    a = render_motion_digits(seed=3, images=IMAGES, labels=LABELS)
    b = render_motion_digits(seed=3, images=IMAGES, labels=LABELS)
    c = render_motion_digits(seed=4, images=IMAGES, labels=LABELS)
    for f in ("offsets", "x", "y", "t", "p"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.t, c.t)
    np.testing.assert_array_equal(a.labels, 2 * np.repeat(LABELS, 2) + np.tile([0, 1], 12))
    ev = a.events(5)
    assert ev.dtype == EVENT_DTYPE and np.all(np.diff(ev["t"]) >= 0)
    assert ev["x"].min() >= 0 and ev["x"].max() < 32 and set(np.unique(ev["p"])) <= {0, 1}
    assert ev["t"].max() <= MotionDigitsConfig().duration_us and len(ev) > 500


def test_one_frame_hides_the_order_two_frames_show_it():
    """Without a distractor and noise, both orders of an image give nearly the same T = 1
    frame, while their first T = 2 frames differ far more."""
    cfg = MotionDigitsConfig(n_distractors=0, noise_rate_hz=0.0)
    r = render_motion_digits(cfg, seed=0, images=IMAGES, labels=LABELS)
    one, two = ToCountFrames((32, 32, 2), 1), ToCountFrames((32, 32, 2), 2)
    d1, d2 = [], []
    for i in range(12):
        # the two renderings of image i sit at different random positions: compare each
        # with its own mirror-free statistic, the ON-OFF difference in each half of the sample
        a, b = r.events(2 * i), r.events(2 * i + 1)
        fa, fb = two(a).astype(float), two(b).astype(float)
        # first frame: right-first moves ON events to the right, left-first to the left
        xa = (fa[0, 1] - fa[0, 0]) * np.arange(32)[None, :]
        xb = (fb[0, 1] - fb[0, 0]) * np.arange(32)[None, :]
        d2.append(np.sign(xa.sum() - xb.sum()))
        sa, sb = one(a)[0].astype(float), one(b)[0].astype(float)
        d1.append(abs((sa[1] - sa[0]).sum() - (sb[1] - sb[0]).sum()) / max(sa.sum(), 1))
    assert np.mean(np.array(d2) > 0) >= 0.9  # frame 1 tells the order
    assert np.mean(d1) < 0.05                # the summed frame barely differs in polarity


@pytest.fixture(scope="module")
def splits():
    return {s: MotionDigitsDVS(s) for s in ("train", "test")}


def test_dataset_split_names_and_registration(splits):
    train, test = splits["train"], splits["test"]
    assert (len(train), len(test)) == (2876, 718)
    assert train.sensor_size == (32, 32, 2) and len(train.classes) == 20 == len(MOTION_CLASSES)
    assert set(np.unique(test.targets)) == set(range(20))
    # both renderings of a source image are in the same split
    assert not set(train.positions // 2) & set(test.positions // 2)
    ev, label = test[0]
    assert ev.dtype == EVENT_DTYPE and label == test.targets[0]
    same = load_dataset("motion-digits", split="test")
    np.testing.assert_array_equal(same.positions, test.positions)
    from lava_mlsnn.train.config import resolve
    assert resolve(overrides=["data.dataset=motion_digits"])["data"]["root"] is None
