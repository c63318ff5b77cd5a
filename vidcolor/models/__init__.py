"""Pure ``nn.Module`` architectures: no I/O, no CLI knowledge."""
from vidcolor.models.effnet import EfficientNetLite0Features
from vidcolor.models.effnet_unet import EffNetUNetColorizer
from vidcolor.models.fcn import FCNColorizer
from vidcolor.models.patchgan import PatchGANDiscriminator
from vidcolor.models.unet import UNetColorizer, UNetGenerator, level_histogram

__all__ = ["EfficientNetLite0Features", "EffNetUNetColorizer", "FCNColorizer", "PatchGANDiscriminator",
           "UNetColorizer", "UNetGenerator", "level_histogram"]
