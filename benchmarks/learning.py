"""The learning table: does partpose learn 3D pose on the synthetic benchmark, and for the
reasons the paper gives?

    python benchmarks/learning.py --jobs 2             # the paper's rows, the CPU budget (cpu_world), seeds 0 and 1,
                                                       # two runs at a time (2 h 4 min on 2 cores)
    python benchmarks/learning.py --rows extra         # the oracles and diagnoses; --rows all: every row
    python benchmarks/learning.py --rows unsup weak --seeds 0
    python benchmarks/learning.py --budget gpu         # the larger budget (the default where CUDA is available)
    python benchmarks/learning.py --rows supervised_ema ours_side_flip_ema --budget cpu_many_people
                                                       # 1,024 training people, 8,000 iterations (7-40 min a run)
    python benchmarks/learning.py --table-only         # re-assemble the table from saved rows
    python benchmarks/learning.py --rescore            # add metrics new since a row ran (its checkpoint)
    python benchmarks/learning.py --test-people 320    # the saved rows on the test videos worn by 320 people
    python benchmarks/learning.py --rows ours_side_flip_ema --seeds 0 --results /tmp/again
                                                       # run a row again beside the committed one
    python benchmarks/learning.py --rows unsup weak --threads 1 &   # two rows at a time, one core each
    python benchmarks/learning.py --rows supervised semi --threads 1

Every row trains the same encoder with the same compute budget (steps × batch) and is evaluated
on the held-out test videos (the last 30 % of every motion, unseen subjects). Each (row, seed) writes
``benchmarks/results/<budget>/<row>_seed<k>.json`` (metrics, learning curve, overrides, commit,
machine, wall time), so rows can run at different times; the table (Markdown) and the learning
curves (PNG) are assembled from whatever JSON files exist. A stopped row resumes from its last
checkpoint when run again, and its minutes in the table add the training its earlier commands did
(which checkpoints record). With ``--results DIR`` the JSON, the
table and the curves go to ``DIR`` instead, and the README's table is left as it is (but for the
folders of :data:`TABLE_PAGES`: ``--results benchmarks/results/avx2 --budget cpu_many_people`` puts
that table in the README too).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from partpose.utils.files import atomic_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import at_least_one, test_frames_cache, test_split  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# The pose off the appearance's paths: L_I^u reconstructs I_t from a detached pose (it trains D
# and the appearance only) and the appearance is read by a trunk of its own, so L_I^u, L_seg and
# L_I^c no longer train the trunk the pose heads read (docs/learning.md, "The pose out of the
# reconstruction"). weak on it: the 2D labels and the energies teach the pose; our row on it:
# L_sil and the energies.
OWN_TRUNK = ["objective.reconstruction_pose_grad=false", "model.encoder.appearance_trunk=own"]
# The semi-supervised setting: 3D labels on a tenth of the training frames.
SEMI = ["objective.setting=semi", "objective.semi_fraction=0.1"]

# Row name -> (label, config overrides). The REFERENCE_ROWS are not trained.
ROWS: dict[str, tuple[str, list[str]]] = {
    "mean_pose": ("mean-pose baseline", []),
    # an oracle, not a method: for every test frame the training frame whose pose is closest
    # to the truth (root-relative, camera frame): what reproducing the training poses can reach
    "nearest_pose": ("nearest training pose (oracle)", []),
    # an oracle view, no pose: the training frames' mean canonical pose turned to every test
    # frame's true view; what learning the view alone, and none of the limbs, reaches
    "true_view": ("mean canonical pose, true view (oracle)", []),
    "supervised": ("supervised (3D labels, upper bound)", ["objective.setting=supervised"]),
    "unsup": ("**unsup (the method)**", []),
    "weak": ("weak (2D labels)", ["objective.setting=weak"]),
    "semi": ("semi (3D labels on 10 %)", SEMI),
    # weak's baseline, not the method: the encoder trained on the 2D labels alone, as the
    # supervised row is on its 3D and 2D labels (what weak's labels teach without the method)
    "labels_2d": ("2D labels alone (weak's labels, no method)", ["objective.setting=labels_2d"]),
    # weak with L_I^u reconstructing I_t from a detached pose: the reconstruction trains D and the
    # appearance, the 2D labels and the energies the pose (docs/learning.md, "The pose out of the
    # reconstruction")
    "weak_pose_from_labels": ("weak, L_I^u without the pose's gradient",
                              ["objective.setting=weak", "objective.reconstruction_pose_grad=false"]),
    "weak_own_trunk": ("weak, L_I^u without the pose's gradient, appearance's own trunk",
                       ["objective.setting=weak"] + OWN_TRUNK),
    "no_fk_camera": ("unsup w/o T_fk∘T_c", ["model.no_fk_camera=true"]),
    "no_saliency": ("unsup w/o m_sal", ["objective.no_saliency=true"]),
    "no_adaptation": ("unsup w/o adaptation", ["objective.no_adaptation=true"]),
    # not the paper's: the method with L_sil (the skeleton against m_sal), a decoder that starts
    # out painting the puppet, and no L_I^c / L_as (docs/learning.md, "A force towards the person")
    "unsup_sil": ("unsup + L_sil, palette decoder, no L_I^c/L_as (ours)",
                  ["objective.silhouette_weight=1.0", "model.decoder.image_init=palette",
                   "objective.appearance_consistency=false"]),
    # unsup_sil with the rotation energy: the prior's pose energy in the canonical frame plus
    # |R_z − R̂|, the decoded prior pose's view taught as a camera (docs/learning.md, "The
    # rotation taught as a camera")
}
ROWS["unsup_sil_rot"] = ("unsup_sil + rotation energy (ours)",
                         ROWS["unsup_sil"][1] + ["objective.energy_frame=canonical_rotation"])
ROWS["unsup_sil_rot_own_trunk"] = ("ours, L_I^u without the pose's gradient, appearance's own trunk",
                                   ROWS["unsup_sil_rot"][1] + OWN_TRUNK)
# semi on the footing on which weak learns from its labels, and our row with semi's labels: do
# 3D labels on a tenth of the frames add to the objectives the way weak's 2D labels do? Half of
# every batch is drawn from the labelled tenth (drawn uniformly, a batch of 16 holds 1.6 of them).
SEMI_HALF = SEMI + ["objective.semi_labelled_share=0.5"]
ROWS["semi_own_trunk"] = ("semi, L_I^u without the pose's gradient, appearance's own trunk, half of each batch labelled",
                          SEMI_HALF + OWN_TRUNK)
ROWS["semi_ours"] = ("ours + 3D labels on 10 %, half of each batch labelled",
                     ROWS["unsup_sil_rot_own_trunk"][1] + SEMI_HALF)
# our row with weak's 2D labels: do its objectives add to the labels (`labels_2d`)?
ROWS["weak_ours"] = ("ours + 2D labels", ROWS["unsup_sil_rot_own_trunk"][1] + ["objective.setting=weak"])
# our row with a side network beside it: a second trunk taught, without labels, the side each
# video's travel shows (the person boxes grow as the person comes nearer), whose side the row's poses
# take through the upright twin under the studio's cameras, 10° above (docs/learning.md, "Which way
# people travel")
SIDE_NETWORK = ["model.side_network=true", "objective.side_weight=1", "model.side_camera_elevation_deg=10"]
ROWS["ours_side"] = ("ours + a side network taught by the travel", ROWS["unsup_sil_rot_own_trunk"][1] + SIDE_NETWORK)
# the same beside 3D labels on a tenth of the frames: do the labels teach the side, or does the side network add to them?
ROWS["semi_ours_side"] = ("ours + 3D labels on 10 % + a side network", ROWS["semi_ours"][1] + SIDE_NETWORK)
# ours_side with half of each batch's pairs mirrored left to right (data.flip_augment): twice the
# people and motions to learn from, but the studio's light, which comes from one side of the world,
# then comes from the other in the mirrored pairs (docs/learning.md, "Mirrored training pairs")
FLIP = ["data.flip_augment=0.5"]
ROWS["ours_side_flip"] = ("ours + a side network + mirrored training pairs", ROWS["ours_side"][1] + FLIP)
# the same run evaluated with a moving average of its weights (optim.ema_decay; about the last 100
# steps): the training is ours_side_flip's step for step, the weights scored are the average
# (docs/learning.md, "A moving average of the weights")
EMA = ["optim.ema_decay=0.99"]
ROWS["ours_side_flip_ema"] = ("ours + a side network + mirrored pairs, weights averaged", ROWS["ours_side_flip"][1] + EMA)
# the average's horizon: the same training, its weights averaged over about the last 200 and 50
# steps (docs/learning.md, "A moving average of the weights")
ROWS["ours_side_flip_ema995"] = ("ours + a side network + mirrored pairs, weights averaged (decay 0.995)",
                                 ROWS["ours_side_flip"][1] + ["optim.ema_decay=0.995"])
ROWS["ours_side_flip_ema98"] = ("ours + a side network + mirrored pairs, weights averaged (decay 0.98)",
                                ROWS["ours_side_flip"][1] + ["optim.ema_decay=0.98"])
# the labelled tenth's row with the same average
ROWS["semi_ours_side_ema"] = ("ours + 3D labels on 10 % + a side network, weights averaged",
                              ROWS["semi_ours_side"][1] + EMA)
# the bound and the paper's rows with the same average: is what it takes away the last step's
# noise in every row, or does it change what the paper's objectives converge to?
ROWS["supervised_ema"] = ("supervised, weights averaged", ROWS["supervised"][1] + EMA)
ROWS["unsup_ema"] = ("unsup, weights averaged", ROWS["unsup"][1] + EMA)
ROWS["weak_ema"] = ("weak, weights averaged", ROWS["weak"][1] + EMA)
ROWS["semi_ema"] = ("semi, weights averaged", ROWS["semi"][1] + EMA)
# the unlabelled row averaged without the mirrored pairs: do the mirrors still add under the average?
ROWS["ours_side_ema"] = ("ours + a side network, weights averaged", ROWS["ours_side"][1] + EMA)
# the labelled tenth's row with mirrored training pairs as well: does what the mirrors give the
# unlabelled row (ours_side against ours_side_flip) add to the labels?
ROWS["semi_ours_side_flip_ema"] = ("ours + 3D labels on 10 % + a side network + mirrored pairs, weights averaged",
                                   ROWS["semi_ours_side"][1] + FLIP + EMA)
# the averaged row with a learning rate that decays to nothing (optim.lr_schedule=cosine): the
# seeds' poses averaged score 19 mm below each seed's (benchmarks/results/seed_ensemble_*.md);
# does a rate that settles take part of that spread away within one run?
COSINE = ["optim.lr_schedule=cosine"]
ROWS["ours_side_flip_ema_cosine"] = ("ours + a side network + mirrored pairs, weights averaged, cosine rate",
                                     ROWS["ours_side_flip_ema"][1] + COSINE)
# the averaged row's learning rate (1e-3, the paper's, for every optimiser) halved and doubled
ROWS["ours_side_flip_ema_lr5e4"] = ("ours + a side network + mirrored pairs, weights averaged, rate 5e-4",
                                    ROWS["ours_side_flip_ema"][1] + ["optim.lr=5e-4"])
ROWS["ours_side_flip_ema_lr2e3"] = ("ours + a side network + mirrored pairs, weights averaged, rate 2e-3",
                                    ROWS["ours_side_flip_ema"][1] + ["optim.lr=2e-3"])
# the averaged row with its 1,200 training videos worn by 64 people instead of 8 (the test videos
# and their four people unchanged): the error every seed shares is the view of unseen people
# (docs/learning.md, "The seeds of a row read together"); do more people, at no cost in labels, teach it?
ROWS["ours_side_flip_ema_people64"] = ("ours + a side network + mirrored pairs, weights averaged, 64 training people",
                                       ROWS["ours_side_flip_ema"][1] + ["data.synthetic.num_train_subjects=64"])
# ... and by 1,024, nearly one person a video: taught the side directly, this encoder reads the
# front of unseen people better the more people it is taught on, given the iterations
# (docs/learning.md, "More people and more iterations together")
ROWS["ours_side_flip_ema_people1024"] = ("ours + a side network + mirrored pairs, weights averaged, 1,024 training people",
                                         ROWS["ours_side_flip_ema"][1] + ["data.synthetic.num_train_subjects=1024"])
# Oracles of the side: the same rows with the side network taught each training frame's true side
# (objective.side_label=truth) instead of its video's travel: what a cue to the side right on every
# frame could give the row, with 8 training people and with 1,024 (docs/learning.md, "A side network
# taught the truth")
SIDE_TRUTH = ["objective.side_label=truth"]
ROWS["ours_side_flip_ema_side_truth"] = ("ours + a side network taught the true side (oracle) + mirrored pairs, weights averaged",
                                         ROWS["ours_side_flip_ema"][1] + SIDE_TRUTH)
ROWS["ours_side_flip_ema_people1024_side_truth"] = (
    "ours + a side network taught the true side (oracle) + mirrored pairs, weights averaged, 1,024 training people",
    ROWS["ours_side_flip_ema_people1024"][1] + SIDE_TRUTH)
# The side network reading the torso and the head cut along the encoder's 2D joints instead of the
# whole crop (model.side_input=parts): what the travel teaches it on the walks carries to the other
# motions (docs/learning.md, "A side network that reads the parts")
PARTS = ["model.side_input=parts"]
ROWS["ours_side_flip_ema_parts"] = ("ours + a side network reading the parts + mirrored pairs, weights averaged",
                                    ROWS["ours_side_flip_ema"][1] + PARTS)
ROWS["ours_side_flip_ema_people1024_parts"] = (
    "ours + a side network reading the parts + mirrored pairs, weights averaged, 1,024 training people",
    ROWS["ours_side_flip_ema_people1024"][1] + PARTS)
# ... taught by the videos whose travel is steady only (objective.side_label=steady_travel): on the
# parts, a classifier taught those labels reads unseen people as one taught the truth does
STEADY = ["objective.side_label=steady_travel"]


def add_variant(name: str, base: str, description: str, overrides: list[str]) -> None:
    """Add the row ``name``: the row ``base`` with ``description`` appended to its own and
    ``overrides`` after its own."""
    ROWS[name] = (ROWS[base][0] + description, ROWS[base][1] + overrides)


def add_with_many_people(name: str, description: str, base: str, overrides: list[str]) -> None:
    """Add the row ``name`` (``base``'s overrides and ``overrides``) and its twin with 1,024 training
    people, ``ours_side_flip_ema_people1024_…`` (the twin of ``base`` and ``overrides``)."""
    def many(row: str) -> str:
        return row.replace("ours_side_flip_ema_", "ours_side_flip_ema_people1024_", 1)

    ROWS[name] = (description, ROWS[base][1] + overrides)
    ROWS[many(name)] = (description + ", 1,024 training people", ROWS[many(base)][1] + overrides)


add_with_many_people("ours_side_flip_ema_parts_steady", "ours + a side network reading the parts, taught the steady "
                     "travel + mirrored pairs, weights averaged", "ours_side_flip_ema_parts", STEADY)
# ... taught the true side (an oracle): what cutting the parts along E's own 2D joints, rather than
# the true ones, leaves of what the parts can tell
ROWS["ours_side_flip_ema_people1024_parts_side_truth"] = (
    "ours + a side network reading the parts, taught the true side (oracle) + mirrored pairs, weights averaged, "
    "1,024 training people",
    ROWS["ours_side_flip_ema_people1024_parts"][1] + SIDE_TRUTH)
# ... taught the steady travel on the frames E reads upright only (the spine within 45° of the
# world's up): lying, crawling and upside-down bodies' travel does not tell their side
UPRIGHT = ["objective.side_max_tilt_deg=45"]
add_with_many_people("ours_side_flip_ema_parts_steady_upright", "ours + a side network reading the parts, taught the "
                     "steady travel of upright bodies + mirrored pairs, weights averaged",
                     "ours_side_flip_ema_parts_steady", UPRIGHT)
# ... and taught to read the two frames of each training pair alike as well, labelled or not: the
# steady travel labels 44 % of the frames, and a video's person shows one side over a few frames
CONSISTENT = ["objective.side_consistency_weight=1"]
add_with_many_people("ours_side_flip_ema_parts_steady_consistent", "ours + a side network reading the parts, taught "
                     "the steady travel and to read a pair's frames alike + mirrored pairs, weights averaged",
                     "ours_side_flip_ema_parts_steady", CONSISTENT)
# ... taught the true side (an oracle) with the front defined by the chest and the head together
# along the level line of sight (a lying body's nearer end), which the upright twin always flips,
# where the chest's side does not tell a crawler's two twins apart: how much of that side the
# parts can be taught
CHEST_AND_HEAD = ["model.side_definition=chest_and_spine"]
ROWS["ours_side_flip_ema_people1024_parts_side_truth_spine"] = (
    ROWS["ours_side_flip_ema_people1024_parts_side_truth"][0] + ", the front the chest and the head together",
    ROWS["ours_side_flip_ema_people1024_parts_side_truth"][1] + CHEST_AND_HEAD)
# Bodies E reads on the ground (the spine within 30° of level) given the side their own 2D hands and
# legs give, whichever the side network reads (model.side_ground_band_deg): on the floor the nearer
# end lies lower in the image. The training is the base row's step for step; only the reading of the
# side at test time differs (docs/learning.md, "Which end of a body on the ground is nearer").
GROUND = ["model.side_ground_band_deg=30"]
ROWS["ours_side_flip_ema_ground"] = ("ours + a side network + mirrored pairs, weights averaged, bodies on the ground "
                                     "sided by their hands and legs", ROWS["ours_side_flip_ema"][1] + GROUND)
add_with_many_people("ours_side_flip_ema_parts_steady_ground", "ours + a side network reading the parts, taught the "
                     "steady travel + mirrored pairs, weights averaged, bodies on the ground sided by their hands and "
                     "legs", "ours_side_flip_ema_parts_steady", GROUND)
# ... with each loss's gradient norm clipped to 3 x the running average of its own
# (optim.grad_clip_relative): with 1,024 people, rare spikes of one loss's gradient (L_I^u's up to
# 50 x its average) knock a seed's pose network off course (docs/learning.md, "Long runs knocked
# off course")
CLIPPED = ["optim.grad_clip_relative=3"]
add_with_many_people("ours_side_flip_ema_parts_steady_ground_clip", ROWS["ours_side_flip_ema_parts_steady_ground"][0]
                     + ", each loss's gradient clipped to 3 × its running average",
                     "ours_side_flip_ema_parts_steady_ground", CLIPPED)
add_variant("ours_side_flip_ema_ground_clip", "ours_side_flip_ema_ground",
            ", each loss's gradient clipped to 3 × its running average", CLIPPED)
# the clip's factor K either side of 3 (docs/learning.md, "Long runs knocked off course")
for factor in (2, 5):
    add_variant(f"ours_side_flip_ema_ground_clip{factor}", "ours_side_flip_ema_ground",
                f", each loss's gradient clipped to {factor} × its running average",
                [f"optim.grad_clip_relative={factor}"])
# ... with k prior poses p_z drawn a step for each training pair (objective.prior_draws): the
# decoupled energies on D's drawings of p_z are the only 3D the row's pose network is taught, and
# 1,000 iterations of 16 drawings do not teach E the drawings themselves (docs/learning.md, "The
# adaptation energy's ceiling"; "More drawings of the prior's poses")
for draws in (2, 4, 8):
    add_variant(f"ours_side_flip_ema_ground_clip_draws{draws}", "ours_side_flip_ema_ground_clip",
                f", {draws} prior poses drawn a training pair", [f"objective.prior_draws={draws}"])
# ... with half of the drawings of p_z read back mirrored (objective.prior_mirror): D paints a
# drawing's left and right parts in colours of their own, which a frame's do not have, so that E
# may read from the colours which way a drawing turns and has no such cue on a frame (docs/learning.md,
# "Mirrored drawings, and a painter taught on the truth")
add_variant("ours_side_flip_ema_ground_clip_mirror", "ours_side_flip_ema_ground_clip",
            ", half of the prior's drawings read back mirrored", ["objective.prior_mirror=0.5"])
# an oracle for diagnosis: L_I^u draws I_t from its true pose (objective.reconstruction_pose=truth),
# so D learns to paint frames from right puppets whatever E reads; E is still taught 3D by the
# drawings alone (docs/learning.md, "Mirrored drawings, and a painter taught on the truth")
add_variant("ours_side_flip_ema_ground_clip_true_painter", "ours_side_flip_ema_ground_clip",
            ", D taught to paint from the true poses (oracle)", ["objective.reconstruction_pose=truth"])
# ... with D's head and torso maps also given times how much the chest faces the camera
# (model.decoder.facing_channels): D may paint what a frame shows of a body's front (a face, a
# shirt's print) on the drawings, which then carry the cues to the turn a frame has (docs/learning.md,
# "Mirrored drawings, and a painter taught on the truth")
add_variant("ours_side_flip_ema_ground_clip_facing", "ours_side_flip_ema_ground_clip",
            ", D told how far the head and torso face the camera", ["model.decoder.facing_channels=true"])
# ... with D left out of the decoupled energies (objective.energy_decoder=false): taught to make its
# drawings legible to E, D paints a code of the pose into them that E reads and frames do not carry
# (docs/learning.md, "D's drawings carry a code")
add_variant("ours_side_flip_ema_ground_clip_no_decoder_energy", "ours_side_flip_ema_ground_clip",
            ", D left out of the decoupled energies", ["objective.energy_decoder=false"])
# ... both: D paints frames from the true poses and is never taught to make its drawings legible
# to E, so that it draws people as the frames show them (an oracle for diagnosis)
add_variant("ours_side_flip_ema_ground_clip_true_painter_no_decoder_energy",
            "ours_side_flip_ema_ground_clip_true_painter",
            ", D left out of the decoupled energies", ["objective.energy_decoder=false"])
# ... with E reading D's drawings of p_z in the energies with every part flat in its mean colour
# (objective.prior_parts=flat): the shading D paints within the parts, which tells E the body's
# turn and frames do not carry, is taken away (docs/learning.md, "D's drawings carry a code")
add_variant("ours_side_flip_ema_ground_clip_flat", "ours_side_flip_ema_ground_clip",
            ", the prior's drawings read with their parts flat", ["objective.prior_parts=flat"])
# ... and half of those drawings read back mirrored: the colours D gives a left part and its right
# twin then tell E nothing either
add_variant("ours_side_flip_ema_ground_clip_flat_mirror", "ours_side_flip_ema_ground_clip_flat",
            ", half of them read back mirrored", ["objective.prior_mirror=0.5"])
# ... with E reading the puppet itself in the energies, each part flat in the palette over the plate
# (objective.prior_parts=palette): D is out of the energies and can tell E nothing a frame lacks
add_variant("ours_side_flip_ema_ground_clip_palette", "ours_side_flip_ema_ground_clip",
            ", the energies read the puppet flat in the palette", ["objective.prior_parts=palette"])
# ... with each flat part's colour made brighter or darker at random (objective.prior_part_jitter):
# how bright D paints a part, what is left of its code, then tells E nothing reliable
add_variant("ours_side_flip_ema_ground_clip_flat_jitter", "ours_side_flip_ema_ground_clip_flat",
            ", each part's colour times a random factor in 0.7..1.3", ["objective.prior_part_jitter=0.3"])
# ... the flat parts over the plate (objective.prior_parts=flat_plate): nothing D paints outside the
# puppet's parts (its edges, a halo) reaches E either
add_variant("ours_side_flip_ema_ground_clip_flat_plate", "ours_side_flip_ema_ground_clip",
            ", the prior's drawings read with their parts flat over the plate", ["objective.prior_parts=flat_plate"])
# ... the puppet flat in the colours I_t shows its parts in, over the plate
# (objective.prior_parts=frame_colours): drawings that look like the person and carry nothing of D's
add_variant("ours_side_flip_ema_ground_clip_frame_colours", "ours_side_flip_ema_ground_clip",
            ", the energies read the puppet flat in the frame's colours", ["objective.prior_parts=frame_colours"])
# ... with two prior poses drawn a step for each pair (objective.prior_draws=2)
add_variant("ours_side_flip_ema_ground_clip_frame_colours_draws2", "ours_side_flip_ema_ground_clip_frame_colours",
            ", two prior poses a pair", ["objective.prior_draws=2"])
# ... and no reconstruction of I_t (objective.reconstruction_weight=0; L_sil kept): what the paper's
# L_I^u adds to a pose taught by the puppets alone
add_variant("ours_side_flip_ema_ground_clip_frame_colours_no_reconstruction", "ours_side_flip_ema_ground_clip_frame_colours",
            ", no reconstruction (L_sil kept)", ["objective.reconstruction_weight=0"])
# ... and L_I^u given the pose back (objective.reconstruction_pose_grad=true, as the paper has it)
add_variant("ours_side_flip_ema_ground_clip_frame_colours_pose_grad", "ours_side_flip_ema_ground_clip_frame_colours",
            ", L_I^u teaching the pose", ["objective.reconstruction_pose_grad=true"])
# ... with the shirt's front print apart, painted where p_z's chest shows it
# (objective.prior_parts=frame_colours_print): puppets that show which way the chest faces
add_variant("ours_side_flip_ema_ground_clip_frame_colours_print", "ours_side_flip_ema_ground_clip",
            ", the energies read the puppet in the frame's colours with the shirt's print",
            ["objective.prior_parts=frame_colours_print"])
# ... and the side network taught, on those puppets, the side their pose shows (objective.prior_side_weight)
add_variant("ours_side_flip_ema_ground_clip_frame_colours_print_side", "ours_side_flip_ema_ground_clip_frame_colours_print",
            ", the side network taught the puppets' side", ["objective.prior_side_weight=1"])
# ... the same without the print: what the print adds to the puppets' side
add_variant("ours_side_flip_ema_ground_clip_frame_colours_side", "ours_side_flip_ema_ground_clip_frame_colours",
            ", the side network taught the puppets' side", ["objective.prior_side_weight=1"])
# ... with the side network reading the parts, taught the steady travel (the parts' row's side network
# beside the frame-colour row's pose network): given the true side, the frame-colour row's poses are
# under the first target with 1,024 people, and the side is what is left (docs/learning.md, "The
# side beside the frame-colour row")
add_variant("ours_side_flip_ema_parts_steady_ground_clip_frame_colours", "ours_side_flip_ema_parts_steady_ground_clip",
            ", the energies read the puppet flat in the frame's colours", ["objective.prior_parts=frame_colours"])
# ... with the travel read from the person's distance the boxes and E's camera scale give, where
# it is steady, read anew every 1,000 steps (objective.side_label=steady_distance): side networks
# refit on it beside the finished row scored 4.6-14 mm under those refit on the boxes' steady travel
# (docs/learning.md, "The travel read from the distance")
add_variant("ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance",
            "ours_side_flip_ema_parts_steady_ground_clip_frame_colours",
            ", the side network taught the travel read from the distance", ["objective.side_label=steady_distance"])
# ... with the relative clip limiting each network part's share of a loss's gradient on its own
# (optim.grad_clip_relative_by=part): L_sil, which trains the pose, is added to L_I^u and shares one
# norm with D's and the appearance's shares of it (docs/learning.md, "The relative clip by part")
add_variant("ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_part_clip",
            "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance",
            ", each network part's gradient clipped on its own", ["optim.grad_clip_relative_by=part"])
# ... and the crop's side network taught the true side (an oracle): how far a cue to the side right
# on every training frame would take the frame-colour row
add_variant("ours_side_flip_ema_ground_clip_frame_colours_side_truth", "ours_side_flip_ema_ground_clip_frame_colours",
            ", the side network taught the true side (oracle)", SIDE_TRUTH)
add_variant("ours_side_flip_ema_people1024_ground", "ours_side_flip_ema_people1024",
            ", bodies on the ground sided by their hands and legs", GROUND)
# ... the distance's row with its weights averaged over about 1,000 steps instead of 100
# (optim.ema_decay=0.999): the 0.99 average was chosen at 1,000-iteration budgets, and at 16,000 the
# row's evaluations still move by 1-5 mm from one to the next (docs/learning.md, "A longer
# average for a longer run")
add_variant("ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_ema999",
            "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance",
            ", weights averaged over about 1,000 steps", ["optim.ema_decay=0.999"])
# ... the distance's row with three side networks, each from its own initial weights and taught the
# labels on its own, read together (model.side_networks=3): side networks of other seeds read
# beside a seed's pose network took 3.0-6.6 mm off it at 16,000 iterations (docs/learning.md,
# "Several side networks in one run")
add_variant("ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3",
            "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance",
            ", three side networks read together", ["model.side_networks=3"])
# ... and each of the three taught the labels of its own half of the training videos
# (objective.side_bag_fraction=0.5): three networks taught the same labels agree, where the seeds'
# side networks, taught labels of their own, gain by being read together (docs/learning.md,
# "Side networks taught on their own halves of the videos")
add_variant("ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3_bags",
            "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3",
            ", each taught its own half of the videos", ["objective.side_bag_fraction=0.5"])
# ... with bags of four fifths of the videos: each network loses fewer labels, the bags still differ
add_variant("ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3_bags80",
            "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3",
            ", each taught its own four fifths of the videos", ["objective.side_bag_fraction=0.8"])
# ... with one of the three reading the whole crop instead of the parts: networks that see the person
# differently disagree without any of them losing labels (the crop's network reads the bodies on the
# ground better, the parts' the upright ones; docs/learning.md, "Side networks that read the person
# differently")
add_variant("ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3_mixed",
            "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3",
            ", one of them reading the crop", ["model.side_inputs=[parts,parts,image]"])
# ... the committee with the saliency weight β dropped after the first 16th of the run (at 1,000 of the long
# budget's 16,000 iterations, where its own drop is at 2,000): runs continued from 8,000 to 16,000 iterations,
# which dropped β at 1,000, scored 4-5 mm under the straight runs on average (docs/learning.md, "Three side
# networks run on to 16,000 iterations")
add_variant("ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3_beta16",
            "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3",
            ", β dropped after the first 16th of the run", ["objective.beta_drop_fraction=0.0625"])

# The table the method is judged by: the baselines, the three settings and the paper's ablations.
# The other rows are oracles and diagnoses (docs/learning.md).
PAPER_ROWS = ("mean_pose", "supervised", "unsup", "weak", "semi", "no_fk_camera", "no_saliency", "no_adaptation")
ROW_GROUPS: dict[str, tuple[str, ...]] = {
    "paper": PAPER_ROWS,
    "extra": tuple(row for row in ROWS if row not in PAPER_ROWS),
    "all": tuple(ROWS),
}


def expand_rows(names: list[str]) -> list[str]:
    """Row names with the groups of ``ROW_GROUPS`` replaced by their rows, each row once, in order."""
    rows: list[str] = []
    for name in names:
        for row in ROW_GROUPS.get(name, (name,)):
            if row not in rows:
                rows.append(row)
    return rows


# The benchmark of the table: the Human3.6M-like studio (data.synthetic.scene=studio: four
# static cameras and one backdrop shared by both splits; unseen subjects and the unseen last
# 30 % of every motion in the test split).
STUDIO = ["data.synthetic.scene=studio", "data.synthetic.moving_camera_fraction=0"]
CPU_STEPS = ["run.steps=1000", "run.batch_size=16", "run.eval_every=250", "run.eval_max_frames=1024",
             "run.image_every=0", "run.checkpoint_every=500"]
# 5-30 minutes a row on one core of this 2-core machine, two rows at a time. Adam: the paper's
# Adagrad at lr 1e-3 was set for 1.6M iterations and barely moves in 1,000 (docs/learning.md);
# every row uses the same optimiser.
CPU = CPU_STEPS + STUDIO + ["optim.kind=adam"]

# The tables run before objective.view_up existed drew the prior poses about the spine; their
# budgets keep doing so, so that every recorded row can be run again as it was.
SPINE = ["objective.view_up=spine"]
# cpu_world's training videos worn by 1,024 people instead of 8 (nearly one a video), for eight
# times the iterations: with them the supervised bound keeps learning where with 8 people it
# stops at about 200 mm (docs/learning.md, "A side network taught the truth"); about 7 minutes
# a run for the bound on one core of the second machine, 40 for our row
MANY_PEOPLE = CPU + ["objective.view_up=world", "data.synthetic.num_train_subjects=1024", "run.steps=8000",
                     "run.eval_every=1000", "run.checkpoint_every=1000"]

BUDGETS: dict[str, list[str]] = {
    "cpu": CPU + SPINE,
    # the same budget with the paper's optimiser and a random camera, backdrop and light per
    # video (the benchmark's default scenes; docs/learning.md, "random scenes")
    "cpu_random": CPU_STEPS + SPINE,
    # the cpu budget with the appearance read by a trunk of its own and β kept at its start
    # value (docs/learning.md, "Dead units in the encoder's heads"): the setting in which `weak`
    # learned from its 2D labels; not the defaults, as it raises `unsup`'s MPJPE
    "cpu_own_trunk": CPU + SPINE + ["model.encoder.appearance_trunk=own", "objective.beta_end=1.0"],
    # the cpu budget with today's defaults: the view prior turns about the motion capture's
    # world up rather than the spine, so p_z is drawn leaning and bending as real bodies are
    # filmed (docs/learning.md, "The adaptation energy's ceiling, and the view prior's up")
    "cpu_world": CPU + ["objective.view_up=world"],
    # cpu_world with the appearance read by a trunk of its own and β kept at its start value,
    # as in cpu_own_trunk: the view prior about the world's up on the footing where the
    # method's rows do not collapse
    "cpu_world_own_trunk": CPU + ["objective.view_up=world", "model.encoder.appearance_trunk=own",
                                  "objective.beta_end=1.0"],
    # cpu_world with the appearance read by a branch: the trunk's stem and first three stages
    # are shared, the appearance runs its own copy of the last stage (the paper's Fig. 3 splits
    # E into a pose and an appearance path; docs/learning.md, "An appearance branch")
    "cpu_world_branch": CPU + ["objective.view_up=world", "model.encoder.appearance_trunk=branch"],
    # cpu_world three times as long (3,000 iterations): does a row's average keep falling with
    # more steps where its raw weights did not? (docs/learning.md, "A moving average of the weights")
    "cpu_world_long": CPU + ["objective.view_up=world", "run.steps=3000"],
    "cpu_many_people": MANY_PEOPLE,
    # cpu_many_people twice as long (16,000 iterations; the later run.steps wins): the distance row
    # was still falling at 8,000 (docs/learning.md, "The distance's row run on to 16,000
    # iterations"); about two and a quarter hours a run on one core, two runs at a time
    "cpu_many_people_long": MANY_PEOPLE + ["run.steps=16000"],
    # a GPU: 128² crops, a ResNet-50-like encoder, 30 times the steps; Adam as on the CPU budgets
    "gpu": ["--config", "configs/synthetic_gpu.yaml", "run.steps=30000", "run.eval_every=2500",
            "optim.kind=adam"] + STUDIO,
}


def default_budget() -> str:
    """The budget a run gets without ``--budget``: ``gpu`` where CUDA is available, else ``cpu_world``."""
    return "gpu" if torch.cuda.is_available() else "cpu_world"

METRICS = (("mpjpe", "MPJPE (mm) ↓"), ("pa_mpjpe", "PA-MPJPE (mm) ↓"), ("pck3d", "3DPCK (%) ↑"),
           ("miou_fg_bg", "mIoU FG/BG (%) ↑"), ("miou_parts", "mIoU parts (%) ↑"),
           ("pose_spread", "pose spread (mm)"), ("facing_error_median", "facing error (°) ↓"))

# A row is degenerate when its poses hardly depend on the image: their spread (the RMS distance
# of each joint from its mean over the test frames) is below this fraction of the true poses'.
DEGENERATE_SPREAD = 0.1


def commit() -> str:
    """The checkout's short commit hash, with ``-dirty`` when tracked files differ from it (a row
    run with uncommitted changes says so); ``unknown`` outside a git checkout."""
    try:
        return subprocess.check_output(["git", "describe", "--always", "--dirty", "--abbrev=7"], cwd=ROOT,
                                       text=True, stderr=subprocess.DEVNULL).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``), or ``cpu``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def machine() -> str:
    """Where a row ran. On a CPU this names the vector instructions PyTorch's kernels use
    (``torch.backends.cpu.get_cpu_capability()``): the same seed takes another path on a CPU
    with others (set ``ATEN_CPU_CAPABILITY`` to retrace one; docs/learning.md, "Reproducing a
    row")."""
    if torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    else:
        device = f"{cpu_model()} ({torch.backends.cpu.get_cpu_capability()})"
    return f"{platform.node()} | {device} | {torch.get_num_threads()} threads | torch {torch.__version__}"


def split_overrides(items: list[str]) -> tuple[str | None, list[str]]:
    config, rest, it = None, [], iter(items)
    for item in it:
        if item == "--config":
            config = next(it)
        else:
            rest.append(item)
    return config, rest


REFERENCE_ROWS = ("mean_pose", "nearest_pose", "true_view")


def nearest_poses(candidates: np.ndarray, targets: np.ndarray, chunk: int = 256) -> np.ndarray:
    """For every target pose the candidate with the lowest MPJPE to it.

    Args:
        candidates: ``(N, J, 3)`` poses, mm.
        targets: ``(M, J, 3)`` poses, mm.
        chunk: targets compared at once (memory ``chunk × N × J``).
    Returns:
        ``(M, J, 3)``: ``candidates[argmin_n MPJPE(candidates[n], targets[m])]``.
    """
    pool = torch.from_numpy(np.ascontiguousarray(candidates, dtype=np.float32))
    picks = []
    for block in torch.split(torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32)), chunk):
        distance = (block[:, None] - pool[None]).norm(dim=-1).mean(dim=-1)  # (chunk, N)
        picks.append(distance.argmin(dim=1))
    return candidates[torch.cat(picks).numpy()]


def mean_pose_in_true_views(poses: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The mean canonical pose of ``poses`` seen from each target's own view.

    Args:
        poses: ``(N, J, 3)`` poses in any frames, mm.
        targets: ``(M, J, 3)`` camera-frame poses, mm.
    Returns:
        ``(M, J, 3)`` root-relative: ``R_m^T @ mean_n canon(poses[n])`` with ``R_m`` the rotation
        :func:`partpose.geometry.kinematics.canonicalize` takes ``targets[m]`` into its canonical
        frame by, so every prediction faces, leans and turns exactly as its target does.
    """
    from partpose.geometry.kinematics import canonicalize

    canonical, _ = canonicalize(torch.from_numpy(np.ascontiguousarray(poses, dtype=np.float64)))
    _, canon_R_target = canonicalize(torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float64)))
    mean = canonical.mean(dim=0)  # (J, 3)
    return torch.einsum("mij,ni->mnj", canon_R_target, mean).numpy()


def reference_row(row: str, overrides: list[str], test_people: int | None = None) -> dict:
    """A row that is not trained, scored on every test frame. ``mean_pose``: the mean
    root-relative camera-frame pose of the training frames, predicted for every test frame (the
    prior-free reference). ``nearest_pose``: for every test frame the training frame's pose
    closest to its truth (an oracle: what a model that reproduces training poses can reach).
    ``test_people``: the test videos worn by that many held-out people instead (:func:`test_split`)."""
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.evaluation.evaluate import Predictions, score
    from partpose.training.config import load_config

    config_path, rest = split_overrides(overrides)
    config = load_config(config_path and ROOT / config_path, rest)
    train = np.concatenate([v.pose3d_cam_mm for v in build_synthetic_videos(config.data.synthetic, "train")])
    test_videos = test_split(config, test_people)
    gt = np.concatenate([v.pose3d_cam_mm for v in test_videos])
    train, gt = train - train[:, :1], gt - gt[:, :1]
    if row == "mean_pose":
        pred = np.broadcast_to(train.mean(0), gt.shape).astype(np.float32).copy()
    elif row == "nearest_pose":
        pred = nearest_poses(train, gt).astype(np.float32)
    elif row == "true_view":
        pred = mean_pose_in_true_views(train, gt).astype(np.float32)
    else:
        raise ValueError(f"{row!r} is not a reference row: {REFERENCE_ROWS}")
    index = np.concatenate([np.full(len(v.pose3d_cam_mm), i) for i, v in enumerate(test_videos)])
    return {"metrics": score(Predictions(pred, gt.astype(np.float32), np.zeros(gt.shape[:2] + (2,), np.float32),
                                         None, None, index)), "curve": []}


def trained_row(row: str, seed: int, budget: str, runs: Path, threads: int = 0) -> dict:
    from partpose.training.config import config_to_dict, load_config
    from partpose.training.trainer import train

    config_path, rest = split_overrides(BUDGETS[budget])
    out = runs / budget / f"{row}_seed{seed}"
    overrides = rest + ROWS[row][1] + [f"run.seed={seed}", f"run.out_dir={out}", "run.progress=false"]
    if threads:
        overrides.append(f"run.threads={threads}")
    config = load_config(config_path and ROOT / config_path, overrides)
    result = train(config, resume=True)
    curve = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {"metrics": result.metrics, "best": result.best_metrics, "initial": result.initial_metrics,
            "curve": [{"step": c["step"], "mpjpe": c["mpjpe"], "pa_mpjpe": c["pa_mpjpe"]} for c in curve],
            "train_seconds": result.seconds, "train_seconds_total": result.total_seconds,
            "config": config_to_dict(config)}


def row_jobs(rows: list[str], seeds: list[int]) -> list[tuple[str, int]]:
    """The (row, seed) runs of a table: every seed of a trained row, seed 0 of a reference row."""
    return [(row, seed) for row in rows for seed in ([0] if row in REFERENCE_ROWS else seeds)]


def job_command(row: str, seed: int, budget: str, runs: Path, threads: int, results: Path = RESULTS) -> list[str]:
    """The command that runs one (row, seed) in a process of its own, leaving the table alone."""
    return [sys.executable, str(Path(__file__).resolve()), "--rows", row, "--seeds", str(seed), "--budget", budget,
            "--runs", str(runs), "--threads", str(threads), "--results", str(results), "--no-table"]


def run_jobs_in_parallel(rows: list[str], seeds: list[int], budget: str, runs: Path, jobs: int,
                         threads: int = 0, results: Path = RESULTS) -> list[tuple[str, int]]:
    """Run the table's (row, seed) pairs ``jobs`` processes at a time, each with ``threads`` torch
    threads (0: the machine's cores shared between the processes). Returns the pairs that failed."""
    from concurrent.futures import ThreadPoolExecutor

    threads = threads or max(1, (os.cpu_count() or 1) // jobs)

    def run(job: tuple[str, int]) -> bool:
        return subprocess.run(job_command(*job, budget, runs, threads, results), cwd=ROOT).returncode == 0

    pairs = row_jobs(rows, seeds)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        succeeded = list(pool.map(run, pairs))
    return [pair for pair, ok in zip(pairs, succeeded) if not ok]


def run_rows(rows: list[str], seeds: list[int], budget: str, runs: Path, threads: int = 0,
             results: Path = RESULTS) -> None:
    """Run each (row, seed) in turn and write its JSON to ``results/<budget>/`` (the commit recorded
    is the checkout's when the run starts, the code it trains with)."""
    folder = results / budget
    folder.mkdir(parents=True, exist_ok=True)
    for row, seed in row_jobs(rows, seeds):
        started, code = time.perf_counter(), commit()
        print(f"== {row} seed {seed} ({budget})", flush=True)
        result = (reference_row(row, BUDGETS[budget]) if row in REFERENCE_ROWS
                  else trained_row(row, seed, budget, runs, threads))
        result.update({
            "row": row, "seed": seed, "budget": budget, "overrides": BUDGETS[budget] + ROWS[row][1],
            "commit": code, "machine": machine(), "wall_seconds": time.perf_counter() - started,
            "date": time.strftime("%Y-%m-%d %H:%M"),
        })
        # written whole or not at all: a run stopped mid-write must not leave a file the table cannot read
        with atomic_path(folder / f"{row}_seed{seed}.json") as tmp:
            tmp.write_text(json.dumps(result, indent=1))
        m = result["metrics"]
        print(f"   MPJPE {m['mpjpe']:.1f}  PA-MPJPE {m['pa_mpjpe']:.1f}  ({result['wall_seconds'] / 60:.1f} min)",
              flush=True)


def row_checkpoint(result: dict, budget: str, runs: Path) -> Path:
    """The last checkpoint a saved trained (row, seed) ``result`` of ``budget`` left under ``runs``."""
    return runs / budget / f"{result['row']}_seed{result['seed']}" / "checkpoints" / "last.pt"


def reads_as_stored(name: str, fresh: dict, result: dict) -> bool:
    """Whether ``fresh`` metrics, read again for the saved row ``result`` (its file ``name``),
    reproduce its stored MPJPE within 0.5 mm; says so when they do not."""
    if abs(fresh["mpjpe"] - result["metrics"]["mpjpe"]) <= 0.5:
        return True
    print(f"   {name}: MPJPE {fresh['mpjpe']:.1f} read again against the stored {result['metrics']['mpjpe']:.1f}, "
          f"left as it is")
    return False


def score_test_people(budget: str, count: int, runs: Path, results: Path = RESULTS) -> None:
    """Score every saved (row, seed) of ``budget`` on the same test videos worn by ``count``
    held-out people, every test frame, and keep the metrics in the row's JSON under
    ``"test_people"`` (keyed by the count, with the commit and the date they were read at).

    A trained row is read from its last checkpoint under ``runs``, which must first reproduce the
    row's stored MPJPE on its own test frames (:func:`reads_as_stored`); a row whose checkpoint is
    missing or does not reproduce it, or which already has the count, is left as it is."""
    from partpose.evaluation.evaluate import predict_frames, score
    from partpose.inference.loading import load_model

    frames_of = test_frames_cache()
    for path in sorted((results / budget).glob("*.json")):
        result = json.loads(path.read_text())
        if str(count) in result.get("test_people", {}):
            continue
        if result["row"] in REFERENCE_ROWS:
            fresh = reference_row(result["row"], result["overrides"], count)["metrics"]
        else:
            checkpoint = row_checkpoint(result, budget, runs)
            if not checkpoint.exists():
                continue
            loaded = load_model(checkpoint)
            own = score(predict_frames(loaded.model, frames_of(loaded.config), max_frames=loaded.config.run.eval_max_frames))
            if not reads_as_stored(path.name, own, result):
                continue
            fresh = score(predict_frames(loaded.model, frames_of(loaded.config, count)))
        fresh.update(commit=commit(), date=time.strftime("%Y-%m-%d %H:%M"))
        result.setdefault("test_people", {})[str(count)] = fresh
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(result, indent=1))
        print(f"   {path.name}: {count} test people, MPJPE {fresh['mpjpe']:.1f}", flush=True)


def rescore(budget: str, runs: Path, results: Path = RESULTS) -> None:
    """Add the metrics that a row's JSON lacks (those added to ``score`` after it ran), by
    evaluating its saved last checkpoint again on the same test frames. The stored MPJPE must be
    reproduced (:func:`reads_as_stored`), or the row is left as it is."""
    from partpose.evaluation.evaluate import predict_frames, score
    from partpose.inference.loading import load_model

    frames_of = test_frames_cache()
    for path in sorted((results / budget).glob("*.json")):
        result = json.loads(path.read_text())
        if "pose_spread" in result["metrics"]:
            continue
        if result["row"] in REFERENCE_ROWS:
            fresh = reference_row(result["row"], result["overrides"])["metrics"]
        else:
            checkpoint = row_checkpoint(result, budget, runs)
            if not checkpoint.exists():
                print(f"   {path.name}: no checkpoint at {checkpoint}, left as it is")
                continue
            loaded = load_model(checkpoint)
            fresh = score(predict_frames(loaded.model, frames_of(loaded.config), max_frames=loaded.config.run.eval_max_frames))
        if not reads_as_stored(path.name, fresh, result):
            continue
        added = {k: v for k, v in fresh.items() if k not in result["metrics"]}
        result["metrics"].update(added)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(result, indent=1))
        print(f"   {path.name}: added {', '.join(added)}", flush=True)


def load_results(budget: str, results: Path = RESULTS) -> dict[str, list[dict]]:
    """Every saved (row, seed) of ``budget`` under ``results``, grouped by row."""
    grouped: dict[str, list[dict]] = {}
    for path in sorted((results / budget).glob("*.json")):
        result = json.loads(path.read_text())
        grouped.setdefault(result["row"], []).append(result)
    return grouped


def format_value(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {(max(values) - min(values)) / 2:.1f}"


def row_wall_seconds(result: dict) -> float:
    """The wall time of a saved (row, seed): that of the command which wrote it, plus, for a run it
    resumed, the training done before (``train_seconds_total`` less this command's ``train_seconds``,
    when the checkpoint it resumed recorded it)."""
    earlier = 0.0
    if result.get("train_seconds_total") is not None and "train_seconds" in result:
        earlier = max(0.0, result["train_seconds_total"] - result["train_seconds"])
    return result["wall_seconds"] + earlier


def table(budget: str, results: Path = RESULTS) -> str:
    grouped = load_results(budget, results)
    header = "| row | " + " | ".join(label for _, label in METRICS) + " | seeds | minutes/row |"
    lines = [header, "|" + "---|" * (len(METRICS) + 3)]
    for row, (label, _) in ROWS.items():
        results = grouped.get(row, [])
        if not results:
            continue
        cells = [format_value([r["metrics"][key] for r in results if key in r["metrics"]]) for key, _ in METRICS]
        minutes = statistics.mean(row_wall_seconds(r) for r in results) / 60
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {len(results)} | {minutes:.1f} |")
    lines.append("")
    studio = set(STUDIO) <= set(BUDGETS[budget])
    scenes = ("unseen subjects, filmed by the training videos' studio cameras" if studio
              else "unseen subjects, backdrops and viewpoints")
    lines.append(f"Mean ± half the range over seeds. Test videos: the held-out last 30 % of every motion, {scenes}.")
    true_spread = [r["metrics"]["gt_pose_spread"] for rs in grouped.values() for r in rs if "gt_pose_spread" in r["metrics"]]
    if true_spread:
        lines.append(f"Pose spread: the RMS distance of each joint from its mean over the test frames, averaged over "
                     f"the joints (the true poses': {statistics.mean(true_spread):.0f} mm; 0 = one pose for every "
                     f"image). Facing error: the median angle between the predicted and the true facing "
                     f"direction (about 90° = chance).")
    if "nearest_pose" in grouped:
        lines.append("The nearest training pose is an oracle, not a method: for every test frame, the training "
                     "frame's pose closest to its truth; the floor of a model that reproduces training poses exactly.")
    if "true_view" in grouped:
        lines.append("The mean canonical pose in the true view is an oracle too: the training frames' mean pose "
                     "turned to every test frame's own view; what learning the view, and none of the limbs, reaches.")
    lines.extend(test_people_lines(grouped))
    lines.extend(["", *target_lines(grouped)])
    return "\n".join(lines)


def test_people_lines(grouped: dict[str, list[dict]]) -> list[str]:
    """For every count of test people some saved rows were scored with (:func:`score_test_people`),
    a table of those rows on them: MPJPE, PA-MPJPE, 3DPCK (mean ± half the range over the seeds
    scored) and the MPJPE over the mean-pose baseline's on the same frames."""
    counts = sorted({int(k) for rs in grouped.values() for r in rs for k in r.get("test_people", {})})
    lines: list[str] = []
    for count in counts:
        def scored(row: str) -> list[dict]:
            return [r["test_people"][str(count)] for r in grouped.get(row, []) if str(count) in r.get("test_people", {})]

        reference = scored("mean_pose")
        lines += ["", f"The same test videos worn by {count} held-out people, one a video (`python benchmarks/learning.py "
                      f"--test-people {count}`: the rows whose checkpoints are kept, every test frame):", "",
                  "| row | MPJPE (mm) ↓ | PA-MPJPE (mm) ↓ | 3DPCK (%) ↑ | × mean pose | seeds |", "|---|---|---|---|---|---|"]
        for row, (label, _) in ROWS.items():
            metrics = scored(row)
            if not metrics:
                continue
            cells = [format_value([m[key] for m in metrics]) for key in ("mpjpe", "pa_mpjpe", "pck3d")]
            ratio = (f"{statistics.mean(m['mpjpe'] for m in metrics) / reference[0]['mpjpe']:.2f}" if reference else "–")
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} | {len(metrics)} |")
    return lines


def target_lines(grouped: dict[str, list[dict]]) -> list[str]:
    """The issue's targets on MPJPE, each with its measured ratio (rows not run are skipped;
    no lines at all when none of a target's rows has run)."""

    def mpjpe(row: str) -> float | None:
        values = [r["metrics"]["mpjpe"] for r in grouped.get(row, [])]
        return statistics.mean(values) if values else None

    checks = [
        ("unsup ≤ 0.6 × mean-pose baseline", "unsup", "mean_pose", 0.6),
        ("unsup ≤ 2 × supervised", "unsup", "supervised", 2.0),
        ("weak ≤ 1.3 × supervised", "weak", "supervised", 1.3),
        # the weak row with L_I^u kept off the pose: the same target, and whether it beats the mean pose
        ("(L_I^u without the pose's gradient) weak ≤ 1.3 × supervised", "weak_pose_from_labels", "supervised", 1.3),
        ("(L_I^u without the pose's gradient) weak < mean-pose baseline", "weak_pose_from_labels", "mean_pose", 1.0),
        ("(the same, appearance's own trunk) weak ≤ 1.3 × supervised", "weak_own_trunk", "supervised", 1.3),
        ("(the same, appearance's own trunk) weak < mean-pose baseline", "weak_own_trunk", "mean_pose", 1.0),
        # our row with weak's 2D labels: the target, and whether the objectives add to the labels alone
        ("(ours + 2D labels) weak ≤ 1.3 × supervised", "weak_ours", "supervised", 1.3),
        ("(ours + 2D labels) weak < 2D labels alone", "weak_ours", "labels_2d", 1.0),
        # our row with the reconstruction and the appearance off the pose's trunk: the first target's two halves
        ("(ours, appearance's own trunk) ≤ 0.6 × mean-pose baseline", "unsup_sil_rot_own_trunk", "mean_pose", 0.6),
        ("(ours, appearance's own trunk) ≤ 2 × supervised", "unsup_sil_rot_own_trunk", "supervised", 2.0),
        # our row with the side network: the first target, and whether the side network adds to the row
        ("(ours + a side network) ≤ 0.6 × mean-pose baseline", "ours_side", "mean_pose", 0.6),
        ("(ours + a side network) < ours", "ours_side", "unsup_sil_rot_own_trunk", 1.0),
        ("(ours + a side network + mirrored pairs) ≤ 0.6 × mean-pose baseline", "ours_side_flip", "mean_pose", 0.6),
        ("(ours + a side network + mirrored pairs) < ours + a side network", "ours_side_flip", "ours_side", 1.0),
        ("(ours + a side network + mirrored pairs, weights averaged) ≤ 0.6 × mean-pose baseline",
         "ours_side_flip_ema", "mean_pose", 0.6),
        ("(ours + a side network + mirrored pairs, weights averaged) < the same without the average",
         "ours_side_flip_ema", "ours_side_flip", 1.0),
        # the paper's unsup and weak rows and our row, each with its weights averaged (weak and
        # ours against the bound averaged the same way)
        ("(weights averaged) unsup ≤ 0.6 × mean-pose baseline", "unsup_ema", "mean_pose", 0.6),
        ("(weights averaged) weak ≤ 1.3 × supervised (weights averaged)", "weak_ema", "supervised_ema", 1.3),
        ("(ours + a side network + mirrored pairs, weights averaged) ≤ 2 × supervised (weights averaged)",
         "ours_side_flip_ema", "supervised_ema", 2.0),
        # our row with bodies on the ground given the side their hands and legs give (the same training)
        ("(ours + a side network + mirrored pairs, weights averaged, bodies on the ground sided by their hands and legs) "
         "≤ 0.6 × mean-pose baseline", "ours_side_flip_ema_ground", "mean_pose", 0.6),
        ("(… bodies on the ground sided by their hands and legs) < the same without", "ours_side_flip_ema_ground",
         "ours_side_flip_ema", 1.0),
        ("(ours + a side network reading the parts, taught the steady travel, …, bodies on the ground sided by their "
         "hands and legs) ≤ 0.6 × mean-pose baseline", "ours_side_flip_ema_parts_steady_ground", "mean_pose", 0.6),
        ("(… the parts, bodies on the ground sided by their hands and legs) ≤ 2 × supervised (weights averaged)",
         "ours_side_flip_ema_parts_steady_ground", "supervised_ema", 2.0),
        ("(… bodies on the ground sided by their hands and legs, each loss's gradient clipped to 3 × its running "
         "average) ≤ 0.6 × mean-pose baseline", "ours_side_flip_ema_ground_clip", "mean_pose", 0.6),
        ("(… bodies on the ground …, each loss's gradient clipped) < the same without the clip",
         "ours_side_flip_ema_ground_clip", "ours_side_flip_ema_ground", 1.0),
        ("(… the parts, …, each loss's gradient clipped to 3 × its running average) ≤ 0.6 × mean-pose baseline",
         "ours_side_flip_ema_parts_steady_ground_clip", "mean_pose", 0.6),
        ("(… the parts, …, each loss's gradient clipped) < the same without the clip",
         "ours_side_flip_ema_parts_steady_ground_clip", "ours_side_flip_ema_parts_steady_ground", 1.0),
        # the main job (the energies read the puppet in the frame's colours), and with 1,024 people
        # its parts row taught the boxes' steady travel or the travel read from the distance
        ("(… bodies on the ground …, each loss's gradient clipped, the energies read the puppet flat in the frame's "
         "colours: the main job) ≤ 0.6 × mean-pose baseline", "ours_side_flip_ema_ground_clip_frame_colours", "mean_pose", 0.6),
        ("(… the parts, taught the steady travel, …, the energies read the puppet flat in the frame's colours) "
         "≤ 0.6 × mean-pose baseline", "ours_side_flip_ema_parts_steady_ground_clip_frame_colours", "mean_pose", 0.6),
        ("(… the parts, taught the travel read from the distance, …) ≤ 0.6 × mean-pose baseline",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance", "mean_pose", 0.6),
        ("(… the parts, taught the travel read from the distance, …) < the same taught the boxes' steady travel",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours", 1.0),
        ("(… the parts, taught the travel read from the distance, …, weights averaged over about 1,000 steps) ≤ 0.6 × "
         "mean-pose baseline", "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_ema999", "mean_pose", 0.6),
        ("(… weights averaged over about 1,000 steps) < the same averaged over about 100",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_ema999",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance", 1.0),
        ("(… the parts, taught the travel read from the distance, …, three side networks read together) ≤ 0.6 × "
         "mean-pose baseline", "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3", "mean_pose", 0.6),
        ("(… three side networks read together) < the same with one",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance", 1.0),
        ("(… three side networks read together, β dropped after the first 16th of the run) ≤ 0.6 × mean-pose "
         "baseline", "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3_beta16", "mean_pose", 0.6),
        ("(… β dropped after the first 16th of the run) < the same after the first 8th",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3_beta16",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3", 1.0),
        ("(… three side networks, each taught its own half of the videos) < the same taught every video",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3_bags",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3", 1.0),
        ("(… three side networks, one of them reading the crop) < the same all reading the parts",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3_mixed",
         "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance_sides3", 1.0),
        ("unsup < w/o adaptation", "unsup", "no_adaptation", 1.0),
        ("unsup < w/o T_fk∘T_c", "unsup", "no_fk_camera", 1.0),
    ]
    lines: list[str] = []
    for text, row, reference, limit in checks:
        a, b = mpjpe(row), mpjpe(reference)
        if a is None or b is None:
            continue
        ratio = a / b
        met = ratio <= limit if limit != 1.0 else ratio < 1.0
        lines.append(f"| {text} | {ratio:.2f} | {'yes' if met else '**no**'} |")
    ablations = [r for r in ("unsup", "no_fk_camera", "no_saliency", "no_adaptation") if mpjpe(r) is not None]
    if len(ablations) == 4:
        worst = max(ablations, key=lambda r: mpjpe(r))
        lines.append(f"| w/o m_sal is the worst of the method's rows | worst: {ROWS[worst][0]} | "
                     f"{'yes' if worst == 'no_saliency' else '**no**'} |")
    no_saliency, unsup = degenerate(grouped.get("no_saliency", [])), degenerate(grouped.get("unsup", []))
    if no_saliency is not None:
        fraction, is_degenerate = no_saliency
        lines.append(f"| w/o m_sal is degenerate (pose spread < {DEGENERATE_SPREAD:.0%} of the true poses') | "
                     f"{fraction:.1%} | {'yes' if is_degenerate else '**no**'} |")
        if unsup is not None:
            fraction, is_degenerate = unsup
            lines.append(f"| (for comparison) unsup is degenerate | {fraction:.1%} | {'yes' if is_degenerate else 'no'} |")
    return ["| target (MPJPE) | measured ratio | met |", "|---|---|---|", *lines] if lines else []


def degenerate(results: list[dict]) -> tuple[float, bool] | None:
    """The row's pose spread as a fraction of the true poses' (mean over seeds), and whether it
    is below ``DEGENERATE_SPREAD``; ``None`` when the row's JSON files lack the spread."""
    fractions = [r["metrics"]["pose_spread"] / r["metrics"]["gt_pose_spread"] for r in results
                 if "pose_spread" in r["metrics"]]
    if not fractions:
        return None
    fraction = statistics.mean(fractions)
    return fraction, fraction < DEGENERATE_SPREAD


def table_markers(name: str = "learning-table") -> tuple[str, str]:
    """The HTML comments a page puts around the table ``name``."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


TABLE_START, TABLE_END = table_markers()
# The pages that show a table between their markers, by the results folder (relative to
# benchmarks/results) and the budget: the README the table of today's defaults and the 1,024-people
# budget's rows run on the AVX2 machine, docs/learning.md the cpu budget's, which its text
# discusses row by row.
TABLE_PAGES: dict[tuple[str, str], tuple[tuple[Path, str], ...]] = {
    (".", "cpu_world"): ((ROOT / "README.md", "learning-table"),),
    (".", "cpu"): ((ROOT / "docs" / "learning.md", "learning-table"),),
    ("avx2", "cpu_many_people"): ((ROOT / "README.md", "learning-table-many-people"),),
}


def replace_between_markers(page: Path, text: str, name: str = "learning-table") -> None:
    """Put ``text`` between the page's markers of the table ``name`` (:func:`table_markers`;
    pages without them are left)."""
    content = page.read_text()
    opening, closing = table_markers(name)
    start, end = content.find(opening), content.find(closing)
    if start < 0 or end < start:
        return
    page.write_text(content[: start + len(opening)] + "\n" + text + "\n" + content[end:])


def results_folder(results: Path) -> str | None:
    """``results`` relative to the committed benchmarks/results (``"."`` for that folder itself),
    or ``None`` outside it: the key of :data:`TABLE_PAGES`."""
    try:
        return results.resolve().relative_to(RESULTS.resolve()).as_posix()
    except ValueError:
        return None


def plot_curves(budget: str, path: Path, results: Path = RESULTS) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grouped = load_results(budget, results)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colours = plt.get_cmap("tab20")  # one colour per row: more rows than the default cycle's ten
    for row, (label, _) in ROWS.items():
        for i, result in enumerate(grouped.get(row, [])):
            if row in REFERENCE_ROWS:
                ax.axhline(result["metrics"]["mpjpe"], color="black", ls={"mean_pose": "--", "nearest_pose": ":"}.get(row, "-."), lw=1,
                           label=label)
                continue
            curve = result["curve"]
            if curve:
                ax.plot([c["step"] for c in curve], [c["mpjpe"] for c in curve], label=label.strip("*") if i == 0 else None,
                        color=colours(list(ROWS).index(row) % colours.N), alpha=0.9 if i == 0 else 0.5)
    ax.set_xlabel("Algorithm-1 iteration")
    ax.set_ylabel("test MPJPE (mm)")
    ax.set_title(f"Learning curves on the synthetic benchmark ({budget} budget)")
    ax.grid(alpha=0.3)
    # the legend under the axes: with some twenty rows it would cover the curves inside them
    ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--rows", nargs="+", default=["paper"], choices=[*ROW_GROUPS, *ROWS], metavar="ROW",
                        help="rows or groups of rows: paper (the default: the baselines, the settings and the "
                             f"paper's ablations), extra (the oracles and diagnoses), all; rows: {', '.join(ROWS)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--budget", choices=list(BUDGETS), default=None,
                        help="the training budget of every row (default: gpu where CUDA is available, else cpu_world)")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "learning")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="where the rows' JSON, the table and the curves are written (default: the committed "
                             "benchmarks/results, whose table the README shows; another folder leaves them alone, "
                             "to run a row again and compare)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads per row (0: PyTorch's default)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="(row, seed) runs at a time, each in its own process (threads: the cores shared)")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--no-table", action="store_true", help="run the rows, leave the table and the plots")
    parser.add_argument("--rescore", action="store_true",
                        help="add missing metrics to the saved rows from their checkpoints under --runs, then the table")
    parser.add_argument("--test-people", type=at_least_one, default=None, metavar="N",
                        help="score the saved rows on the same test videos worn by N held-out people (their "
                             "checkpoints under --runs; every test frame), then the table")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.test_people is not None and args.rescore:
        parser.error("--test-people and --rescore: one at a time")
    args.budget = args.budget or default_budget()
    rows, failed = expand_rows(args.rows), []
    if args.rescore:
        if args.threads:
            torch.set_num_threads(args.threads)
        rescore(args.budget, args.runs, args.results)
    elif args.test_people is not None:
        if args.threads:
            torch.set_num_threads(args.threads)
        score_test_people(args.budget, args.test_people, args.runs, args.results)
    elif not args.table_only and args.jobs > 1:
        failed = run_jobs_in_parallel(rows, args.seeds, args.budget, args.runs, args.jobs, args.threads, args.results)
    elif not args.table_only:
        run_rows(rows, args.seeds, args.budget, args.runs, args.threads, args.results)
    if args.no_table:
        return 0
    text = table(args.budget, args.results)
    (args.results / args.budget).mkdir(parents=True, exist_ok=True)
    (args.results / f"learning_{args.budget}.md").write_text(text + "\n")
    folder = results_folder(args.results)
    committed = folder == "."
    for page, name in TABLE_PAGES.get((folder, args.budget), ()):
        replace_between_markers(page, text, name)
    plot_curves(args.budget, (ROOT / "docs" / "images" if committed else args.results) / f"learning_curves_{args.budget}.png",
                args.results)
    print(text)
    if failed:
        print("failed runs (the table lacks them): " + ", ".join(f"{row} seed {seed}" for row, seed in failed),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
