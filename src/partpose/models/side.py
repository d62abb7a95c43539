"""The side network: which side a person shows the camera, read by a trunk of its own.

No objective of the method tells a person seen from the front from one seen from the back: a pose
and its twin draw the same 2D joints (``geometry.facing``), and the encoder settles on one side
for everyone. The side network is a second encoder trunk and one linear unit, taught which side
each training frame shows by a label that needs no annotation: the way its video's person
travels (``partpose.data.travel``; ``objective.side_weight``). The model then gives each pose
the side this network reads (``PartPoseModel.encode_sided``): its upright twin where it shows the
other one. Beside the encoder rather than inside it, the label's mistakes cannot pull the limbs
about (docs/learning.md, "Which way people travel").
"""

from __future__ import annotations

import torch
from torch import nn

from partpose.models.encoder import Encoder, EncoderConfig


class SideNetwork(nn.Module):
    """The encoder's trunk (fresh weights) and one linear unit on its pooled features:
    ``(B, 3, H, W)`` images in [0, 1] -> ``(B,)`` logits of "the chest faces the camera"."""

    def __init__(self, encoder_config: EncoderConfig) -> None:
        super().__init__()
        self.encoder = Encoder(encoder_config)
        self.head = nn.Linear(self.encoder.feature_dim, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.features(image)).squeeze(1)
