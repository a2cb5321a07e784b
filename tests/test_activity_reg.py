"""Activity regularizer (payload L1, rate target) and BinaryWeight's per-channel scale."""
import pytest
import torch

from lava_mlsnn.models import dvs_convnet
from lava_mlsnn.quant import BinaryWeight
from lava_mlsnn.train.activity import ActivityRegularizer, combine
from lava_mlsnn.train.config import ConfigError, resolve


def _net_and_input():
    torch.manual_seed(0)
    net = dvs_convnet((2, 8, 8), 3, levels=3, channels=(4, 4), hidden=8, timesteps=2)
    x = torch.randint(0, 4, (6, 2, 8, 8, 2)).float()
    return net, x


def test_l1_term_is_lambda_times_mean_occupancy_and_lowers_activity():
    net, x = _net_and_input()
    reg = ActivityRegularizer("l1", 2.0)
    net(x)
    rates = [m.rate for m in net.modules() if getattr(m, "rate", None) is not None]
    assert torch.isclose(reg(net), 2.0 * torch.stack(rates).mean())
    before = float(torch.stack(rates).mean())
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(5):
        net(x)
        loss = reg(net)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net(x)
    after = float(torch.stack([m.rate for m in net.modules()
                               if getattr(m, "rate", None) is not None]).mean())
    assert after < 0.8 * before


def test_rate_target_is_zero_at_target_and_combines():
    net, x = _net_and_input()
    net(x)
    rates = torch.stack([m.rate for m in net.modules() if getattr(m, "rate", None) is not None])
    reg = ActivityRegularizer("rate", 1.0, target=float(rates[0]))
    want = ((rates - rates[0]) ** 2).mean()
    assert torch.isclose(reg(net), want)
    both = combine([reg, None, ActivityRegularizer("l1", 1.0)])
    assert torch.isclose(both(net), want + rates.mean())
    assert combine([None]) is None
    with pytest.raises(ValueError, match="activity regularizer"):
        ActivityRegularizer("entropy")


def test_config_activity_section():
    cfg = resolve(overrides=["activity.regularizer=l1", "activity.lambda=0.5"])
    assert cfg["activity"] == {"regularizer": "l1", "lambda": 0.5, "target": 0.05}
    with pytest.raises(ConfigError, match="activity.regularizer"):
        resolve(overrides=["activity.regularizer=l2"])


def test_binary_weight_channel_scale_exports_only_with_one_unit():
    torch.manual_seed(1)
    w = torch.randn(4, 16, 3, 3)
    std = BinaryWeight(scale="channel")
    q, unit = std.integer_grid(w)  # standardized, fan-in 144: mean|w_hat| ~ 0.8, unit 1
    assert unit == 1.0 and torch.equal(std(w), q.float() * unit)
    raw = BinaryWeight(standardize=False, scale="channel")
    w_raw = w * torch.tensor([1.0, 1.0, 8.0, 8.0]).reshape(4, 1, 1, 1)
    units = raw(w_raw).abs().amax(dim=(1, 2, 3))
    assert units[0] != units[2]  # trained per channel, as Q-SNN's code
    with pytest.raises(ValueError, match="per-channel 1-bit scales differ"):
        raw.integer_grid(w_raw)
