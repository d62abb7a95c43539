"""D: appearance code + multi-scale part maps -> foreground RGB (D_I) and part logits (D_seg).

Convention:
    ``stage_sizes`` are the square resolutions ``base_size * 2**k`` up to ``resolution``
    (default 4, 8, 16, 32, 64). The appearance vector ``a (B, A)`` becomes a
    ``(C_0, base_size, base_size)`` map (linear + ReLU); a channel-wise fully-connected layer
    (Pathak et al., "Context encoders", 2016: each channel's ``base_size**2`` positions are mixed
    by that channel's own fully-connected layer, so extreme spatial positions interact) and a
    1x1 convolution follow. Then, at every stage size ``r_k`` except the last, the features are
    concatenated with the part maps drawn at ``r_k`` (multi-scale pose conditioning), mixed by a
    3x3 convolution and doubled in resolution by an up-convolution (transposed convolution,
    kernel 4, stride 2). The last doubling is where the network forks into D_I (foreground RGB,
    sigmoid) and D_seg (``L + 1`` logits, background first, the label convention of
    ``partpose.geometry.parts``): each fork has its own up-convolution to the output resolution
    (``widths[-1]`` channels), norm and ReLU, then a 1x1 convolution over its features
    concatenated with the full-resolution part maps, so every stage size, the output one
    included, sees the pose. (At the output size there are no 3x3 convolutions and the forks
    are narrow: on a CPU, layers at 64 x 64 cost more than the rest of the decoder.) D_seg starts
    out copying the puppet (``SEG_INIT_GAIN``), so the first composites already put the
    synthesised person inside the drawn silhouette.

    The part maps are given as a list, one ``(B, L, r_k, r_k)`` tensor per stage size, drawn by
    the puppet at that size (not resized here). With ``facing_channels`` the decoder also takes
    the front weight ``f (B,)`` of ``partpose.geometry.facing.front_weight`` and appends, at
    every size, the maps of ``FACING_PARTS`` multiplied by ``f`` (``F = 2`` more input channels;
    D_seg still predicts ``L + 1`` labels): a part seen from the front and from behind then
    reach D differently. Every weight from the extra channels starts at zero, so the initial
    decoder paints as it would without them. Outputs are in the autocast dtype when autocast
    is on; ``PartPoseModel.synthesize`` casts them to float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from partpose.geometry.facing import FACING_PART_INDICES
from partpose.geometry.parts import NUM_PARTS
from partpose.geometry.puppet import PALETTE
from partpose.models.encoder import make_norm
from partpose.utils.checks import check_shape

SEG_INIT_GAIN = 8.0
"""Initial weight from each full-resolution part map to its own part logit (see
``Decoder._init_segmentation_from_maps``)."""

PALETTE_INIT_CLIP = 0.05
"""``image_init="palette"``: the weight from part ``l`` to colour channel ``c`` of D_I's last
layer starts at ``logit(clip(PALETTE[l + 1][c] / 255, 0.05, 0.95))``, so inside a part the
sigmoid output starts near the part's palette colour."""


@dataclass
class DecoderConfig:
    """Decoder hyper-parameters. The defaults are the small CPU model (64 x 64 output)."""

    resolution: int = 64  # output size (square); must be base_size * 2**k
    base_size: int = 4  # side of the low-resolution map made from the appearance vector
    widths: tuple[int, ...] = (64, 48, 32, 24, 8)  # channels at each stage size, low to high res (last: each fork)
    norm: Literal["group", "batch", "none"] = "group"  # "group", "batch" or "none" (see EncoderConfig.norm)
    norm_groups: int = 8  # groups of GroupNorm (reduced to a divisor of the channel count)
    part_colours: bool = True  # D_I's last 1x1 layer over the part maps is predicted from a (a colour per part)
    image_init: Literal["random", "palette"] = "random"  # palette: D_I starts out painting each part in its PALETTE colour
    facing_channels: bool = False  # also take the head and torso maps times the front weight (geometry.facing)

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        if self.base_size < 1 or self.resolution < 2 * self.base_size:
            raise ValueError(
                f"decoder resolution ({self.resolution}) must be at least twice base_size ({self.base_size}) >= 1"
            )
        ratio = self.resolution // self.base_size
        if self.resolution % self.base_size or ratio & (ratio - 1):
            raise ValueError(
                f"decoder resolution ({self.resolution}) must be base_size ({self.base_size}) times a power of two"
            )
        stages = ratio.bit_length()
        if len(self.widths) != stages:
            raise ValueError(
                f"decoder widths needs one entry per stage size {_sizes(self.resolution, self.base_size)}, "
                f"got {len(self.widths)}: {self.widths}"
            )
        if min(self.widths) <= 0:
            raise ValueError("decoder widths must be positive")
        if self.norm not in ("group", "batch", "none"):
            raise ValueError(f"decoder norm must be 'group', 'batch' or 'none', got {self.norm!r}")
        if self.image_init not in ("random", "palette"):
            raise ValueError(f"decoder image_init must be 'random' or 'palette', got {self.image_init!r}")


def _sizes(resolution: int, base_size: int) -> tuple[int, ...]:
    sizes, r = [], base_size
    while r <= resolution:
        sizes.append(r)
        r *= 2
    return tuple(sizes)


class ChannelwiseFC(nn.Module):
    """Channel-wise fully-connected layer: ``y[b, c] = W[c] @ x[b, c].flatten() + bias[c]``.

    Each of the ``C`` channels has its own ``(N, N)`` matrix over its ``N = h * w`` positions;
    channels do not mix (a 1x1 convolution after it does that).
    """

    def __init__(self, channels: int, size: int):
        super().__init__()
        n = size * size
        self.size = size
        self.weight = nn.Parameter(torch.empty(channels, n, n))
        self.bias = nn.Parameter(torch.zeros(channels, n))
        nn.init.uniform_(self.weight, -1.0 / n**0.5, 1.0 / n**0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        y = torch.einsum("bcn,cmn->bcm", x.reshape(b, c, h * w), self.weight.to(x.dtype))
        return (y + self.bias.to(y.dtype)).reshape(b, c, h, w)


class PointwiseConv(nn.Module):
    """A 1x1 convolution written as one einsum over channels.

    Same function and initialisation as ``nn.Conv2d(in_channels, out_channels, 1)``; on a CPU,
    with few channels at 64 x 64, it runs several times faster than the 1x1 convolution kernel.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        reference = nn.Conv2d(in_channels, out_channels, 1, bias=bias)
        self.weight = nn.Parameter(reference.weight.detach()[:, :, 0, 0].clone())
        self.bias = nn.Parameter(reference.bias.detach().clone()) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.einsum("oc,bchw->bohw", self.weight.to(x.dtype), x)
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)[:, None, None]
        return y


class _Fork(nn.Module):
    """One output branch: up-convolution to the output size, norm, ReLU, then a 1x1 convolution
    over the branch features concatenated with the full-resolution part maps (written as the
    sum of two 1x1 convolutions, one per input, which is the same map without the concat).

    With ``appearance_dim``, the 1x1 weights over the part maps are not fixed but predicted from
    the appearance code, one ``(out_channels, L)`` matrix per sample: every part is painted in a
    colour read from ``a`` before the features add texture and shading. (A fixed matrix can only
    give every person the same colour per part; the features must then carry the appearance to
    each part's pixels through the up-convolutions, which a freshly initialised decoder learns
    slowly, and until it does the decoded people do not look like the people in the frames.)"""

    def __init__(self, in_channels: int, channels: int, num_parts: int, out_channels: int, norm: str, groups: int,
                 appearance_dim: int | None = None):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, channels, 4, 2, 1, bias=False)
        self.norm = make_norm(norm, channels, groups)
        self.out_features = PointwiseConv(channels, out_channels)
        self.out_maps = PointwiseConv(num_parts, out_channels, bias=False)
        self.num_parts, self.out_channels = num_parts, out_channels
        self.maps_from_appearance = None
        if appearance_dim is not None:
            self.maps_from_appearance = nn.Linear(appearance_dim, out_channels * num_parts)
            nn.init.zeros_(self.maps_from_appearance.bias)

    def forward(self, x: torch.Tensor, maps: torch.Tensor, appearance: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.norm(self.up(x)))
        maps = maps.to(h.dtype)
        y = self.out_features(h) + self.out_maps(maps)
        if self.maps_from_appearance is not None:
            weight = self.maps_from_appearance(appearance).to(h.dtype).view(-1, self.out_channels, self.num_parts)
            y = y + torch.einsum("bol,blhw->bohw", weight, maps)
        return y


class Decoder(nn.Module):
    """D with its two forks D_I and D_seg (module docstring).

    Args:
        config: :class:`DecoderConfig`.
        num_parts: L, the channels of the part maps (``NUM_PARTS``).
        appearance_dim: A, the length of the appearance code (the encoder's ``appearance_dim``).
    """

    def __init__(self, config: DecoderConfig | None = None, num_parts: int = NUM_PARTS, appearance_dim: int = 64):
        super().__init__()
        self.config = config = config if config is not None else DecoderConfig()
        self.num_parts = num_parts
        self.facing_parts = FACING_PART_INDICES if config.facing_channels else ()
        if max(self.facing_parts, default=-1) >= num_parts:
            raise ValueError(f"facing_channels needs the {NUM_PARTS} parts of PARTS, got num_parts={num_parts}")
        self.map_channels = num_parts + len(self.facing_parts)
        self.appearance_dim = appearance_dim
        self._sizes = _sizes(config.resolution, config.base_size)
        widths, norm, groups = config.widths, config.norm, config.norm_groups
        base = config.base_size

        self.from_appearance = nn.Linear(appearance_dim, widths[0] * base * base)
        self.channel_fc = ChannelwiseFC(widths[0], base)
        self.mix = nn.Sequential(
            nn.Conv2d(widths[0], widths[0], 1, bias=False), make_norm(norm, widths[0], groups), nn.ReLU(inplace=True)
        )
        # One conditioning block per size below the output: concat part maps, 3x3 conv.
        self.condition = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(widths[k] + self.map_channels, widths[k], 3, 1, 1, bias=False),
                make_norm(norm, widths[k], groups),
                nn.ReLU(inplace=True),
            )
            for k in range(len(self._sizes) - 1)
        )
        # Shared up-convolutions between them; the last doubling belongs to each fork.
        self.up = nn.ModuleList(
            nn.Sequential(
                nn.ConvTranspose2d(widths[k], widths[k + 1], 4, 2, 1, bias=False),
                make_norm(norm, widths[k + 1], groups),
                nn.ReLU(inplace=True),
            )
            for k in range(len(self._sizes) - 2)
        )
        self.image_fork = _Fork(widths[-2], widths[-1], self.map_channels, 3, norm, groups,
                                appearance_dim if config.part_colours else None)  # D_I
        self.seg_fork = _Fork(widths[-2], widths[-1], self.map_channels, num_parts + 1, norm, groups)  # D_seg
        self._init_segmentation_from_maps()
        self._init_facing_channels()
        if config.image_init == "palette":
            self._init_image_from_palette()

    @torch.no_grad()
    def _init_segmentation_from_maps(self) -> None:
        """Start D_seg at the puppet: logit of part ``l`` = ``SEG_INIT_GAIN * p_l`` and the
        background logit ``SEG_INIT_GAIN / 2`` (plus the small random feature term), so that the
        initial segmentation, and with it the initial foreground of the composite, is the drawn
        puppet's (about 0.98 probability inside a part, 0.85 background outside)."""
        weight = self.seg_fork.out_maps.weight
        weight.zero_()
        weight[1:, : self.num_parts].copy_(SEG_INIT_GAIN * torch.eye(self.num_parts, dtype=weight.dtype))
        self.seg_fork.out_features.bias.zero_()
        self.seg_fork.out_features.bias[0] = SEG_INIT_GAIN / 2

    @torch.no_grad()
    def _init_facing_channels(self) -> None:
        """Every weight from a front channel starts at zero (conditioning convolutions and both
        forks' last layers), so the initial decoder's output does not depend on the front
        weight; the gradients of those weights do, and D learns to use them."""
        if not self.facing_parts:
            return
        for condition in self.condition:
            condition[0].weight[:, condition[0].in_channels - len(self.facing_parts) :].zero_()
        for fork in (self.image_fork, self.seg_fork):
            fork.out_maps.weight[:, self.num_parts :].zero_()
            if fork.maps_from_appearance is not None:
                view = fork.maps_from_appearance.weight.view(fork.out_channels, self.map_channels, -1)
                view[:, self.num_parts :].zero_()

    @torch.no_grad()
    def _init_image_from_palette(self) -> None:
        """Start D_I painting the puppet: every part in its ``PALETTE`` colour, so that decoded
        prior poses are readable puppets from the first iteration (``docs/learning.md``)."""
        palette = torch.tensor(PALETTE[1 : self.num_parts + 1], dtype=torch.float32).T / 255.0  # (3, L)
        weight = self.image_fork.out_maps.weight  # the front channels' columns stay at zero
        weight[:, : self.num_parts].copy_(
            torch.logit(palette.clamp(PALETTE_INIT_CLIP, 1.0 - PALETTE_INIT_CLIP)).to(weight.dtype)
        )

    @property
    def stage_sizes(self) -> tuple[int, ...]:
        """Square resolutions at which ``forward`` needs part maps, low to high."""
        return self._sizes

    @property
    def resolution(self) -> int:
        return self.config.resolution

    def forward(
        self, appearance: torch.Tensor, part_maps: list[torch.Tensor], front: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode.

        Args:
            appearance: ``(B, A)`` appearance codes.
            part_maps: one ``(B, L, r, r)`` tensor per ``r`` in ``stage_sizes`` (low to high),
                depth-composited part maps in [0, 1].
            front: ``(B,)`` front weights in [0, 1] (``geometry.facing.front_weight``);
                required with ``facing_channels``, must be ``None`` without.
        Returns:
            ``rgb_fg (B, 3, H, W)`` in [0, 1] (sigmoid) and ``seg_logits (B, L + 1, H, W)``
            (background first), ``H = W = resolution``.
        """
        check_shape(appearance, ("B", self.appearance_dim), "appearance")
        batch = appearance.shape[0]
        if not isinstance(part_maps, (list, tuple)) or len(part_maps) != len(self._sizes):
            got = f"length {len(part_maps)}" if isinstance(part_maps, (list, tuple)) else type(part_maps).__name__
            raise ValueError(f"part_maps must be a list of {len(self._sizes)} tensors at sizes {self._sizes}, got {got}")
        for r, maps in zip(self._sizes, part_maps):
            check_shape(maps, (batch, self.num_parts, r, r), f"part_maps at {r}x{r}")
        if self.facing_parts:
            if front is None:
                raise ValueError("this decoder has facing_channels: pass the front weight (geometry.facing.front_weight)")
            check_shape(front, (batch,), "front")
            index = list(self.facing_parts)
            weight = front.to(part_maps[0].dtype)[:, None, None, None]
            part_maps = [torch.cat((maps, maps[:, index] * weight), dim=1) for maps in part_maps]
        elif front is not None:
            raise ValueError("front weights given to a decoder without facing_channels")

        base = self.config.base_size
        x = F.relu(self.from_appearance(appearance)).reshape(batch, -1, base, base)
        x = self.mix(self.channel_fc(x))
        for k, condition in enumerate(self.condition):
            x = condition(torch.cat((x, part_maps[k].to(x.dtype)), dim=1))
            if k < len(self.up):
                x = self.up[k](x)
        rgb_fg = torch.sigmoid(self.image_fork(x, part_maps[-1], appearance))
        seg_logits = self.seg_fork(x, part_maps[-1])
        return rgb_fg, seg_logits
