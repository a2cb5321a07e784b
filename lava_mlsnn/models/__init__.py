"""Ready-made architectures built from :mod:`lava_mlsnn.block`."""
from .convnet import dvs_convnet, dvs_resnet

__all__ = ["dvs_convnet", "dvs_resnet"]
