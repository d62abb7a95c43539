"""partpose: self-supervised 3D human pose estimation via part-guided novel image synthesis.

Layers (one folder each):
    geometry    skeleton, forward/inverse kinematics (T_fk), camera (T_c), part puppet (T_s)
    data        motion capture, unpaired pose prior, synthetic videos, frame pairs, real datasets
    models      encoder E, decoder D, and the model that joins them through the geometry
    losses      the method's objectives as pure functions of tensors
    training    configuration, Algorithm 1, checkpoints, logging
    evaluation  metrics and evaluation protocols
    cli         the ``partpose`` command
"""

__version__ = "0.1.0"
