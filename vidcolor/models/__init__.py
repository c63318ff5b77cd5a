"""Pure ``nn.Module`` architectures: no I/O, no CLI knowledge."""
from vidcolor.models.effnet import EfficientNetLite0Features
from vidcolor.models.effnet_unet import EffNetUNetColorizer
from vidcolor.models.exemplar import ExemplarColorizer
from vidcolor.models.fcn import FCNColorizer
from vidcolor.models.patchgan import PatchGANDiscriminator
from vidcolor.models.two_image import TwoImageColorizer
from vidcolor.models.unet import UNetColorizer, UNetGenerator

FAMILIES = {"unet": UNetGenerator, "effnet_unet": EffNetUNetColorizer, "unet_colorizer": UNetColorizer,
            "fcn": FCNColorizer, "exemplar": ExemplarColorizer, "two_image": TwoImageColorizer}
"""Architecture family (a weight file's ``arch`` record's ``family``) -> generator class."""

__all__ = ["FAMILIES", "EfficientNetLite0Features", "EffNetUNetColorizer", "ExemplarColorizer", "FCNColorizer", "PatchGANDiscriminator", "TwoImageColorizer",
           "UNetColorizer", "UNetGenerator"]
