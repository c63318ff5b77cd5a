"""Pure ``nn.Module`` architectures: no I/O, no CLI knowledge."""
from vidcolor.models.effnet import EfficientNetLite0Features
from vidcolor.models.effnet_unet import EffNetUNetColorizer
from vidcolor.models.exemplar import ExemplarColorizer
from vidcolor.models.fcn import FCNColorizer
from vidcolor.models.patchgan import PatchGANDiscriminator
from vidcolor.models.two_image import TwoImageColorizer
from vidcolor.models.unet import UNetColorizer, UNetGenerator, level_cue

__all__ = ["EfficientNetLite0Features", "EffNetUNetColorizer", "ExemplarColorizer", "FCNColorizer", "PatchGANDiscriminator", "TwoImageColorizer",
           "UNetColorizer", "UNetGenerator", "level_cue"]
