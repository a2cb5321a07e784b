"""Ready-made architectures built from :mod:`lava_mlsnn.block`."""
from .convnet import dvs_convnet, dvs_resnet
from .papers import RESNET_CONFIGS, VGG_CONFIGS, residual_net, resnet, vgg

__all__ = ["RESNET_CONFIGS", "VGG_CONFIGS", "dvs_convnet", "dvs_resnet", "residual_net",
           "resnet", "vgg"]
