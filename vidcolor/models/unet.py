"""U-Net generator for dequantization (pix2pix U-Net, Isola et al. 2017, as used by Pix2Pix-FQ, seed 000).

Built recursively from one block type, as in pix2pix's ``UnetSkipConnectionBlock``, with three changes
for restoration:

* residual output: the network predicts a correction added to its input, zero-initialised, so an
  untrained generator is the identity and training only has to learn the restoration;
* decoder: a 3x3 convolution at the coarser level, then bilinear x2 upsampling, instead of transposed
  convolution: no checkerboard patterns in smooth gradients (exactly what dequantization must
  produce), and 4x fewer operations in those convolutions than convolving after the upsampling
  (10.4 GFLOPs per 640x360 frame for the default size instead of 22, counted with torch's
  FlopCounterMode);
* a global cue: the per-channel 256-bin histogram of the whole input frame (which levels are present
  and where they sit) goes through a small MLP that modulates the bottleneck (FiLM, Perez et al. 2018)
  and adds a global offset to the output. The level set tells bit truncation (levels at the bin floor)
  from bin-middle or 0..255-spread levels, which no small receptive field can see. Optionally
  (``use_phase``) also the *level phase* of that histogram at periods 8, 16 and 32 (see
  :func:`~vidcolor.cue.level_cue`), which states directly where levels sit within their bins: the histogram MLP
  alone left trained models hedging between the floor and bin-middle conventions.

Optionally (``space_to_depth=2``) the whole U-Net works at half resolution on the frame's 2x2 pixel blocks
stacked as channels (``pixel_unshuffle``, FFDNet's reversible downsampling: Zhang, Zuo & Zhang, "FFDNet:
Toward a fast and flexible solution for CNN-based image denoising", IEEE TIP 27(9), 2018), and its
correction is put back at full resolution by ``pixel_shuffle`` (the sub-pixel layer of Shi et al., "Real-time
single image and video super-resolution using an efficient sub-pixel convolutional neural network", CVPR
2016): no tensor wider than the frame's own channels lives at full resolution, which is where a thin U-Net
spends its time on a CPU (memory traffic, not arithmetic), yet every output pixel has its own correction.
"""
from __future__ import annotations

import torch
from torch import nn

from vidcolor.cue import HIST_BINS, PHASE_DIM


def concat_channels(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``torch.cat([a, b], dim=1)`` of two ``(N, C, H, W)`` tensors, the same values and a channels-last result where
    both are channels-last.

    Where each operand is a channels-last CPU tensor of 16 bytes per pixel (bf16 or fp16 with 8 channels: the
    dequantization generator's full-resolution skip), with no gradient to track and no trace (the ONNX export
    traces) or compilation recording it (a graph has no use for complex numbers), each pixel's channels are viewed
    as one ``complex128`` and the two are concatenated along that last axis: ``torch.cat`` copies a channels-last
    tensor of so few channels a pixel at a time, and this way it copies 16-byte elements instead (a 8 + 8-channel
    bf16 640x360 frame on one core of the 2-core AMD EPYC: 1.79 -> 0.47 ms; the same bytes; the whole generator in
    bf16, 80 interleaved frames each way: 0.7-1.5 ms less CPU a frame, median of paired differences, identical
    output). Any other input goes to ``torch.cat`` (wider tensors copy fast there: 16 + 16 channels 0.19 ms against
    0.25 this way).

    Raises:
        RuntimeError: as ``torch.cat`` (shapes that do not match outside dim 1, mixed devices).
    """
    if (a.device.type == b.device.type == "cpu" and not torch.jit.is_tracing() and not torch.compiler.is_compiling()
            and a.ndim == b.ndim == 4 and a.dtype == b.dtype and a.shape[0] == b.shape[0]
            and a.shape[2:] == b.shape[2:] and a.shape[1] * a.element_size() == 16 == b.shape[1] * b.element_size()
            and _dense_channels_last(a) and _dense_channels_last(b)
            and not (torch.is_grad_enabled() and (a.requires_grad or b.requires_grad))):
        pixels = torch.cat([a.permute(0, 2, 3, 1).view(torch.complex128),
                            b.permute(0, 2, 3, 1).view(torch.complex128)], 3)
        return pixels.view(a.dtype).permute(0, 3, 1, 2)
    return torch.cat([a, b], dim=1)


def _dense_channels_last(t: torch.Tensor) -> bool:
    """Whether the ``(N, C, H, W)`` tensor ``t`` is laid out channels-last with no gaps, by its strides themselves
    (``is_contiguous`` passes size-1 dimensions of any stride, which a dtype view refuses)."""
    n, c, h, w = t.shape
    return t.stride() == (h * w * c, 1, w * c, c)


class _Block(nn.Module):
    """One U-Net level: stride-2 conv down, inner block (or bottleneck), conv + bilinear upsample, skip concat.

    Input ``(N, ch, H, W)``, output ``(N, 2 * ch, H, W)``.
    """

    def __init__(self, ch: int, inner_ch: int, inner: "_Block | None", cond_dim: int):
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(ch, inner_ch, 4, 2, 1, bias=False), nn.BatchNorm2d(inner_ch),
                                  nn.LeakyReLU(0.2, True))
        self.inner = inner
        self.film = nn.Linear(cond_dim, 2 * inner_ch) if inner is None and cond_dim else None
        up_in = 2 * inner_ch if inner is not None else inner_ch
        self.up = nn.Sequential(nn.Conv2d(up_in, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True),
                                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
        if self.film is not None:
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        y = self.down(x)
        if self.inner is not None:
            y = self.inner(y, cond)
        elif self.film is not None and cond is not None:
            gamma, beta = self.film(cond)[:, :, None, None].chunk(2, dim=1)
            y = y * (1 + gamma) + beta
        return concat_channels(x, self.up(y))


class UNetGenerator(nn.Module):
    """Residual U-Net generator with a global level-histogram cue.

    Args:
        in_channels: channels of the (normalised) input, e.g. 3 for LAB ``(L/50-1, a/110, b/110)``
            or RGB in [-1, 1].
        out_channels: channels corrected, the *last* ``out_channels`` of the input (2 = ab only,
            3 = all of L, a, b or R, G, B).
        ngf: channels at full resolution; doubled per level up to ``8 * ngf``.
        depth: number of stride-2 levels; inputs are padded to a multiple of ``2 ** depth``.
        hidden: width of the histogram MLP (and of the conditioning vector).
        use_histogram: feed the histogram part of :func:`~vidcolor.cue.level_cue` of the whole frame (FiLM + global offset).
        use_phase: also feed its level-phase part (needs ``use_histogram``), through ``phase_in``, a
            zero-initialised linear map added to the histogram MLP's first layer: a model trained
            without it behaves identically with it until trained further.
        space_to_depth: 1, or 2 to run the U-Net on 2x2 pixel blocks stacked as channels (``4 * in_channels``
            at half resolution, see the module docstring); ``ngf`` and ``depth`` then count from half
            resolution.

    Shapes:
        ``forward(x (N, in_channels, H, W), cue (N, CUE_DIM) or None) -> (N, out_channels, H, W)``:
        the corrected channels, i.e. ``x[:, -out_channels:] + correction``, in the input's units; the
        correction is not bounded or clamped, so the output may leave the input's range. ``cue`` is the
        :func:`~vidcolor.cue.level_cue` vector (``CUE_DIM = 3 * 256 + PHASE_DIM``; without ``use_phase``
        only its first ``3 * 256`` entries are read); ignored without ``use_histogram``. Any H, W: padded
        (replicate) to a multiple of ``2 ** depth * space_to_depth`` inside, output cropped back.

    Raises:
        ValueError: ``use_phase`` without ``use_histogram``; ``space_to_depth`` other than 1 or 2.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 16, depth: int = 5,
                 use_histogram: bool = True, hidden: int = 64, use_phase: bool = False, space_to_depth: int = 1):
        super().__init__()
        if space_to_depth not in (1, 2):
            raise ValueError(f"space_to_depth must be 1 or 2, got {space_to_depth}")
        self.out_channels, self.depth, self.s2d = out_channels, depth, space_to_depth
        blocks = space_to_depth ** 2            # channels per input channel inside the network
        self.hist_mlp = (nn.Sequential(nn.Linear(3 * HIST_BINS, hidden), nn.LeakyReLU(0.2, True),
                                       nn.Linear(hidden, hidden), nn.LeakyReLU(0.2, True))
                         if use_histogram else None)
        cond_dim = hidden if use_histogram else 0
        chans = [min(ngf * 2 ** i, ngf * 8) for i in range(depth + 1)]
        block = None
        for i in reversed(range(depth)):
            block = _Block(chans[i], chans[i + 1], block, cond_dim)
        self.stem = nn.Sequential(nn.Conv2d(blocks * in_channels, ngf, 3, 1, 1), nn.LeakyReLU(0.2, True))
        self.body = block
        self.head = nn.Sequential(nn.Conv2d(2 * ngf, ngf, 3, 1, 1), nn.LeakyReLU(0.2, True),
                                  nn.Conv2d(ngf, blocks * out_channels, 3, 1, 1))
        self.offset = nn.Linear(hidden, out_channels) if use_histogram else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)  # pix2pix init N(0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.zeros_(self.head[-1].weight)
        if self.offset is not None:
            nn.init.zeros_(self.offset.weight)
            nn.init.zeros_(self.offset.bias)
        if use_phase and not use_histogram:
            raise ValueError("use_phase needs use_histogram")
        # registered last, so that an optimiser's state for a model trained without it still lines up
        self.phase_in = nn.Linear(PHASE_DIM, hidden, bias=False) if use_phase else None
        if self.phase_in is not None:
            nn.init.zeros_(self.phase_in.weight)

    def _condition(self, cue: torch.Tensor) -> torch.Tensor:
        """``(N, CUE_DIM)`` cue -> ``(N, hidden)`` conditioning vector."""
        h = self.hist_mlp[0](cue[:, :3 * HIST_BINS])
        if self.phase_in is not None:
            h = h + self.phase_in(cue[:, 3 * HIST_BINS:])
        return self.hist_mlp[1:](h)

    def forward(self, x: torch.Tensor, cue: torch.Tensor | None = None) -> torch.Tensor:
        """``x (N, in_channels, H, W)``, ``cue (N, CUE_DIM)`` or None -> ``(N, out_channels, H, W)``; see the
        class's Shapes."""
        h, w = x.shape[-2:]
        m = 2 ** self.depth * self.s2d
        ph, pw = (-h) % m, (-w) % m
        xp = nn.functional.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        if self.s2d > 1:
            xp = nn.functional.pixel_unshuffle(xp, self.s2d)
        cond = self._condition(cue) if self.hist_mlp is not None and cue is not None else None
        # contiguous in the default layout: a channels-last tensor of 3 channels makes the broadcast offset add
        # below slow (bf16, one core of the 2-core AMD EPYC with AVX-512: 3.3 against 1.1 ms per 640x360
        # frame; the same values)
        correction = self.head(self.body(self.stem(xp), cond)).contiguous()
        if self.s2d > 1:
            correction = nn.functional.pixel_shuffle(correction, self.s2d)
        correction = correction[..., :h, :w]
        if cond is not None:
            correction = correction + self.offset(cond)[:, :, None, None]
        return x[:, -self.out_channels:] + correction


class UNetColorizer(UNetGenerator):
    """The pix2pix U-Net as a colorizer (seeds 001, 003): L -> ab.

    The gray frame enters as normalised LAB with zero ab, ``(L_n, 0, 0)``, and the residual output
    corrects the last two channels, so an untrained colorizer returns gray.

    Shapes:
        ``forward(L_n (N, 1, H, W)) -> ab_n (N, 2, H, W)``, ``L_n = L / 50 - 1`` (L in [0, 100]),
        ``ab_n = ab / 110``, unbounded (a residual correction, no tanh: clamp before use).
    """

    def __init__(self, ngf: int = 16, depth: int = 6):
        super().__init__(in_channels=3, out_channels=2, ngf=ngf, depth=depth, use_histogram=False)

    def forward(self, L_n: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """``L_n (N, 1, H, W)`` -> ``ab_n (N, 2, H, W)`` (``ab / 110``, unbounded)."""
        return super().forward(nn.functional.pad(L_n, (0, 0, 0, 0, 0, 2)))
