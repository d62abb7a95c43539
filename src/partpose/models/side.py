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

With ``model.side_networks`` > 1 the model holds several side networks from different initial
weights, each taught the labels on its own (:meth:`SideEnsemble.member_logits`), and reads them
together (:class:`SideEnsemble`): the mean of their logits (docs/learning.md, "Several side
networks in one run").
``model.side_inputs`` gives each of them its own input, the crop or the parts (docs/learning.md,
"Side networks that read the person differently").
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
        return self.logits_of(self.trunk_input(image, joints_2d))

    def trunk_input(self, image: torch.Tensor, joints_2d: torch.Tensor | None = None) -> torch.Tensor:
        """What the trunk reads of ``image`` (and ``joints_2d``, as :meth:`forward` takes them): the
        crop itself, or with ``input='parts'`` its parts' patches. Side networks with the same
        ``input`` and ``patch_size`` read the same (:class:`SideEnsemble` cuts them once)."""
        if self.input != "parts":
            return image
        if joints_2d is None:
            raise ValueError("a side network that reads the parts needs the images' 2D joints")
        return part_patches(image, joints_2d.detach(), self.patch_size)

    def logits_of(self, trunk_input: torch.Tensor) -> torch.Tensor:
        """``(B,)`` logits of what :meth:`trunk_input` gave."""
        return self.head(self.encoder.features(trunk_input)).squeeze(1)

    def member_logits(self, image: torch.Tensor, joints_2d: torch.Tensor | None = None) -> torch.Tensor:
        """``(1, B)``: :meth:`forward`'s logits as the one member they are (what training teaches;
        :meth:`SideEnsemble.member_logits`)."""
        return self(image, joints_2d)[None]


class SideEnsemble(nn.Module):
    """Several side networks read together: ``(B, 3, H, W)`` images (and their ``(B, 17, 2)`` 2D
    joints) -> ``(B,)`` the mean of the members' logits.

    Side networks taught on the same labels from different initial weights and batches disagree
    on many unseen frames (docs/learning.md, "Side networks read together"); averaging their
    logits, as an ensemble of classifiers does, keeps what they agree on. Every member is called
    as :class:`SideNetwork` is, so an ensemble stands wherever the model's ``side`` does.

    A member that is itself an ensemble gives its own members: every side network then weighs
    alike in the mean, however the networks were gathered.

    Args:
        members: the side networks (or ensembles of them), at least one; each reads what its own
            ``input`` says.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("a side ensemble needs at least one side network")
        flat = [network for member in members
                for network in (member.members if isinstance(member, SideEnsemble) else [member])]
        self.members = nn.ModuleList(flat)
        self.input = "parts" if any(m.input == "parts" for m in self.members) else "image"

    def forward(self, image: torch.Tensor, joints_2d: torch.Tensor | None = None) -> torch.Tensor:
        """``image (B, 3, H, W)``, ``joints_2d (B, 17, 2)`` or ``None`` -> ``(B,)`` mean logits
        (float32 whatever the members' precision)."""
        return self.member_logits(image, joints_2d).mean(dim=0)

    def member_logits(self, image: torch.Tensor, joints_2d: torch.Tensor | None = None) -> torch.Tensor:
        """``(M, B)``: each of the ``M`` members' logits, in order (float32 whatever the members'
        precision): what training teaches, each member the same labels on its own. Members that
        read alike (:meth:`SideNetwork.trunk_input`) share one cut of the parts."""
        inputs: dict[tuple[str, int | None], torch.Tensor] = {}
        logits = []
        for member in self.members:
            key = (member.input, member.patch_size if member.input == "parts" else None)
            if key not in inputs:
                inputs[key] = member.trunk_input(image, joints_2d)
            logits.append(member.logits_of(inputs[key]).float())
        return torch.stack(logits)


def make_side(encoder_config: EncoderConfig, input: str = "image", patch_size: int = 32, count: int = 1,
              inputs: tuple[str, ...] | None = None) -> nn.Module:
    """``count`` fresh side networks (:class:`SideNetwork`, each with its own initial weights drawn
    in turn): the network itself for one, a :class:`SideEnsemble` of them for more.

    Args:
        inputs: what each network reads (:data:`SIDE_INPUTS`), one entry per network in order, so
            that a committee's members see the person differently; ``None``: every one ``input``.

    Raises:
        ValueError: ``count`` < 1, or ``inputs`` not ``count`` entries long.
    """
    if count < 1:
        raise ValueError(f"a model's side networks must number at least one, got {count}")
    if inputs is None:
        inputs = (input,) * count
    if len(inputs) != count:
        raise ValueError(f"one input per side network: {count} networks, {len(inputs)} inputs")
    networks = [SideNetwork(encoder_config, member_input, patch_size) for member_input in inputs]
    return networks[0] if count == 1 else SideEnsemble(networks)
