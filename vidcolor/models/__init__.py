"""Pure ``nn.Module`` architectures: no I/O, no CLI knowledge."""
from vidcolor.models.patchgan import PatchGANDiscriminator
from vidcolor.models.unet import UNetGenerator, level_histogram

__all__ = ["PatchGANDiscriminator", "UNetGenerator", "level_histogram"]
