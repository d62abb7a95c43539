"""The side network: which side a person shows the camera, read by a trunk of its own.

No objective of the method tells a person seen from the front from one seen from the back: a pose
and its twin draw the same 2D joints (``geometry.facing``), and the encoder settles on one side
for everyone. The side network is a second encoder trunk and one linear unit, taught which side
each training frame shows by a label that needs no annotation: the way its video's person
travels (``partpose.data.travel``; ``objective.side_weight``). The model then gives each pose
the side this network reads (``PartPoseModel.encode_sided``): its upright twin where it shows the
other one. Beside the encoder rather than inside it, the label's mistakes cannot pull the limbs
about (docs/learning.md, "Which way people travel").

With ``model.side_input=parts`` it reads the torso and the head cut along the encoder's 2D
joints (``geometry.part_patches``) instead of the whole crop: the marks of the front look the
same there in every posture, so what it learns on the walks the travel labels right carries to
the other motions (docs/learning.md, "A side network that reads the parts").
"""

from __future__ import annotations

import torch
from torch import nn

from partpose.geometry.part_patches import part_patches
from partpose.models.encoder import Encoder, EncoderConfig

SIDE_INPUTS = ("image", "parts")
"""What the side network reads: the whole crop, or the torso's and the head's patches."""


class SideNetwork(nn.Module):
    """The encoder's trunk (fresh weights) and one linear unit on its pooled features:
    ``(B, 3, H, W)`` images in [0, 1] (and their ``(B, 17, 2)`` 2D joints) -> ``(B,)`` logits of
    "the chest faces the camera".

    Args:
        encoder_config: the trunk's configuration (convolutional and pooled to a fixed grid, so
            it takes patches of any size).
        input: :data:`SIDE_INPUTS`: ``image`` reads the crop, ``parts`` the
            ``geometry.part_patches.part_patches`` of it along the joints, ``patch_size`` pixels
            a part.
    """

    def __init__(self, encoder_config: EncoderConfig, input: str = "image", patch_size: int = 32) -> None:
        super().__init__()
        if input not in SIDE_INPUTS:
            raise ValueError(f"the side network's input must be one of {', '.join(SIDE_INPUTS)}, got {input!r}")
        if patch_size < 4:
            raise ValueError(f"patch_size must be at least 4 pixels, got {patch_size}")
        self.input, self.patch_size = input, patch_size
        self.encoder = Encoder(encoder_config)
        self.head = nn.Linear(self.encoder.feature_dim, 1)

    def forward(self, image: torch.Tensor, joints_2d: torch.Tensor | None = None) -> torch.Tensor:
        """``image (B, 3, H, W)``, ``joints_2d (B, 17, 2)`` (normalised image coordinates; read
        only with ``input='parts'``, and never differentiated) -> ``(B,)`` logits."""
        if self.input == "parts":
            if joints_2d is None:
                raise ValueError("a side network that reads the parts needs the images' 2D joints")
            image = part_patches(image, joints_2d.detach(), self.patch_size)
        return self.head(self.encoder.features(image)).squeeze(1)


class SideEnsemble(nn.Module):
    """Several side networks read together: ``(B, 3, H, W)`` images (and their ``(B, 17, 2)`` 2D
    joints) -> ``(B,)`` the mean of the members' logits.

    Side networks taught on the same labels from different initial weights and batches disagree
    on many unseen frames (docs/learning.md, "Side networks read together"); averaging their
    logits, as an ensemble of classifiers does, keeps what they agree on. Every member is called
    as :class:`SideNetwork` is, so an ensemble stands wherever the model's ``side`` does.

    Args:
        members: the side networks, at least one; each reads what its own ``input`` says.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("a side ensemble needs at least one side network")
        self.members = nn.ModuleList(members)
        self.input = "parts" if any(m.input == "parts" for m in members) else "image"

    def forward(self, image: torch.Tensor, joints_2d: torch.Tensor | None = None) -> torch.Tensor:
        """``image (B, 3, H, W)``, ``joints_2d (B, 17, 2)`` or ``None`` -> ``(B,)`` mean logits
        (float32 whatever the members' precision)."""
        return torch.stack([member(image, joints_2d).float() for member in self.members]).mean(dim=0)
