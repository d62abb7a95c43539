import math

import pytest
import torch
import torch.nn.functional as F
from naive import naive_part_maps

from partpose.geometry import puppet
from partpose.geometry.parts import NUM_PARTS, PARTS
from partpose.geometry.puppet import (
    CANONICAL_SIZE,
    HALF_WIDTH_CANON,
    PALETTE,
    PART_SHAPES,
    TORSO_HALF_DEPTH_MM,
    canonical_part_maps,
    composite_by_depth,
    draw_labels_rgb,
    draw_maps_rgb,
    foreground,
    labels,
    part_affine,
    part_depth,
    part_maps,
    soft_labels,
    transformed_parts,
    uncertainty,
)
from partpose.geometry.skeleton import H36M17

F64 = torch.float64
IDX = {name: H36M17.index(name) for name in H36M17.names}
PART = {p.name: l for l, p in enumerate(PARTS)}
TWO_ANCHOR = [l for l, p in enumerate(PARTS) if len(p.anchors) == 2]

# A standing person seen from the front, canonical millimetres (X face, Y left, Z up); the
# camera looks along -X, so image x = +Y, image y = -Z and depth = -X.
STANDING_MM = (
    (0, 0, 0), (0, -133, 0), (0, -140, -443), (0, -140, -897), (0, 133, 0), (0, 140, -443),
    (0, 140, -897), (0, 0, 234), (0, 0, 480), (40, 0, 601), (0, 0, 716), (0, 151, 480),
    (0, 300, 300), (0, 450, 150), (0, -151, 480), (60, -300, 300), (120, -450, 150),
)


def standing(scale: float = 1.0, dtype=F64) -> tuple[torch.Tensor, torch.Tensor]:
    p = torch.tensor(STANDING_MM, dtype=dtype) / 1000.0
    q = scale * torch.stack((p[:, 1], -p[:, 2]), dim=-1) + torch.tensor([0.0, 0.1], dtype=dtype)
    return q[None], -p[None, :, 0]


def assert_close_report(actual: torch.Tensor, expected: torch.Tensor, atol: float, what: str) -> None:
    diff = (actual - expected).abs()
    worst = diff.max().item()
    where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    assert worst <= atol, f"{what}: largest abs difference {worst:.3e} at index {where}"


def pixel_centres(height: int, width: int, dtype=F64) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised (x, y) of every pixel centre, each ``(H, W)``."""
    x = (torch.arange(width, dtype=dtype) * 2 + 1) / width - 1
    y = (torch.arange(height, dtype=dtype) * 2 + 1) / height - 1
    return x[None, :].expand(height, width), y[:, None].expand(height, width)


def sample_at(image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear value of a ``(H, W)`` map at normalised points ``(N, 2)``."""
    grid = points.to(image.dtype).view(1, 1, -1, 2)
    return F.grid_sample(image[None, None], grid, align_corners=False).view(-1)


def one_limb_poses(seed: int = 0, per_part: int = 3) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """The standing pose with one two-anchor part moved to a random centre, length and angle.

    Returns ``q (B, J, 2)`` and, per sample, ``(part index, sample index)``.
    """
    g = torch.Generator().manual_seed(seed)
    base, _ = standing()
    poses, which = [], []
    for l in TWO_ANCHOR:
        for _ in range(per_part):
            q = base[0].clone()
            angle = float(torch.rand((), generator=g, dtype=F64)) * 2 * math.pi
            length = 0.3 + 0.25 * float(torch.rand((), generator=g, dtype=F64))
            centre = (torch.rand(2, generator=g, dtype=F64) - 0.5) * 0.4
            d = torch.tensor([math.cos(angle), math.sin(angle)], dtype=F64)
            start = centre - PART_SHAPES[l].offset * length * d - 0.5 * length * d
            i1, i2 = PARTS[l].anchor_indices()
            q[i1], q[i2] = start, start + length * d
            which.append((l, len(poses)))
            poses.append(q)
    return torch.stack(poses), which


# ----------------------------------------------------------------------------- canonical maps


def test_canonical_maps_shape_range_zero_border_and_cache():
    maps = canonical_part_maps()
    assert maps.shape == (NUM_PARTS, CANONICAL_SIZE, CANONICAL_SIZE) and maps.dtype == torch.float32
    assert maps.min() >= 0 and maps.max() <= 1
    border = torch.cat((maps[:, 0], maps[:, -1], maps[:, :, 0], maps[:, :, -1]), dim=1)
    assert border.abs().max() == 0, "canonical maps must vanish on their border (zero padding continues them)"
    assert canonical_part_maps() is maps, "cached per (device, dtype)"
    assert canonical_part_maps(dtype=F64).dtype == F64
    # every part is solid at its centre and symmetric across its axis
    centre = maps[:, CANONICAL_SIZE // 2, :].amax(dim=1)
    assert (centre == 1).all()
    assert torch.equal(maps, maps.flip(1))


def test_canonical_limbs_symmetric_about_origin_head_reaches_towards_nose():
    maps = canonical_part_maps(dtype=F64)
    for l in TWO_ANCHOR:
        if PARTS[l].name != "head":
            assert torch.equal(maps[l], maps[l].flip(1)), PARTS[l].name
    head = maps[PART["head"]]
    mass_x = (head.sum(0) * ((torch.arange(CANONICAL_SIZE, dtype=F64) * 2 + 1) / CANONICAL_SIZE - 1)).sum() / head.sum()
    assert mass_x < -0.1, "the head extends past the nose (parent anchor, -x) towards chin and neck"


# ----------------------------------------------------------------------------- placement


def test_anchors_land_on_joints_exactly():
    g = torch.Generator().manual_seed(1)
    q = torch.rand(6, 17, 2, generator=g, dtype=F64) * 1.6 - 0.8
    scale = torch.rand(6, generator=g, dtype=F64) + 0.5
    theta = part_affine(q, scale)
    assert theta.shape == (6, NUM_PARTS, 2, 3)
    for l, part in enumerate(PARTS):
        idx = part.anchor_indices()
        if len(idx) == 2:
            q1, q2 = q[:, idx[0]], q[:, idx[1]]
        else:
            q1, q2 = 0.5 * (q[:, idx[2]] + q[:, idx[3]]), 0.5 * (q[:, idx[0]] + q[:, idx[1]])
        a = PART_SHAPES[l].anchor_x
        c1 = (theta[:, l, :, :2] @ q1[..., None])[..., 0] + theta[:, l, :, 2]
        c2 = (theta[:, l, :, :2] @ q2[..., None])[..., 0] + theta[:, l, :, 2]
        assert_close_report(c1, torch.tensor([-a, 0.0], dtype=F64).expand_as(c1), 1e-12, f"{part.name} parent anchor")
        assert_close_report(c2, torch.tensor([a, 0.0], dtype=F64).expand_as(c2), 1e-12, f"{part.name} child anchor")


def test_transformed_map_reproduces_canonical_map_at_anchors_and_around_them():
    """Map value at a projected canonical point == canonical value there (anchors and points
    along and across the part); 256^2 so the two bilinear samplings stay within 0.06."""
    q, which = one_limb_poses(seed=2, per_part=1)
    scale = torch.full((q.shape[0],), 1.5, dtype=F64)
    maps = transformed_parts(q, (256, 256), scale)
    canonical = canonical_part_maps(dtype=F64)
    theta = part_affine(q, scale)
    for l, b in which:
        a = PART_SHAPES[l].anchor_x
        canon_pts = torch.tensor(
            [[-a, 0], [a, 0], [0, 0], [-1.2 * a, 0], [1.2 * a, 0], [0, 0.8 * HALF_WIDTH_CANON],
             [0.5 * a, -1.1 * HALF_WIDTH_CANON], [-a, 0.9 * HALF_WIDTH_CANON]], dtype=F64)
        lin, shift = theta[b, l, :, :2], theta[b, l, :, 2]
        image_pts = torch.linalg.solve(lin, (canon_pts - shift).T).T
        i1, i2 = PARTS[l].anchor_indices()
        assert_close_report(image_pts[:2], q[b, [i1, i2]], 1e-12, f"{PARTS[l].name} anchors")
        expected = sample_at(canonical[l], canon_pts)
        actual = sample_at(maps[b, l], image_pts)
        assert_close_report(actual, expected, 0.06, f"{PARTS[l].name} map vs canonical map")


def test_mass_centre_principal_axis_extent_and_thickness():
    """At 128^2 (1 px = 2/128): mass centre within 0.35 px of the part's centre (the midpoint
    for limbs), principal axis within 1 degree of the limb, visible length within 1 px of
    ``extent * limb length`` and thickness within 1 px of ``2 s half_width``."""
    q, which = one_limb_poses(seed=3, per_part=3)
    size = 128
    px = 2.0 / size
    scale = torch.full((q.shape[0],), 1.2, dtype=F64)
    maps = transformed_parts(q, (size, size), scale)
    x, y = pixel_centres(size, size)
    for l, b in which:
        m = maps[b, l]
        i1, i2 = PARTS[l].anchor_indices()
        delta = q[b, i2] - q[b, i1]
        length = delta.norm()
        d = delta / length
        n = torch.stack((-d[1], d[0]))
        centre = 0.5 * (q[b, i1] + q[b, i2]) + PART_SHAPES[l].offset * delta
        mass = m.sum()
        mean = torch.stack(((m * x).sum(), (m * y).sum())) / mass
        assert (mean - centre).norm() / px < 0.35, f"{PARTS[l].name}: mass centre {mean} vs {centre}"
        dx, dy = x - mean[0], y - mean[1]
        cov = torch.stack((torch.stack(((m * dx * dx).sum(), (m * dx * dy).sum())),
                           torch.stack(((m * dx * dy).sum(), (m * dy * dy).sum())))) / mass
        axis = torch.linalg.eigh(cov).eigenvectors[:, -1]
        angle = math.degrees(math.acos(min(1.0, abs(float(axis @ d)))))
        assert angle < 1.0, f"{PARTS[l].name}: principal axis {angle:.2f} degrees off the limb"
        t = torch.linspace(-1.0, 1.0, 4001, dtype=F64)[:, None]
        along = sample_at(m, centre + t * length * d)
        across = sample_at(m, centre + t * 0.3 * n)
        visible = (t[along >= 0.5].max() - t[along >= 0.5].min()) * length
        thick = (t[across >= 0.5].max() - t[across >= 0.5].min()) * 0.3
        want_len = PART_SHAPES[l].extent * length
        want_thick = 2 * 1.2 * PARTS[l].half_width_mm / 1000
        name = PARTS[l].name
        assert abs(visible - want_len) / px < 1.0, f"{name}: length {visible / px:.2f} px vs {want_len / px:.2f}"
        assert abs(thick - want_thick) / px < 1.0, f"{name}: thickness {thick / px:.2f} px vs {want_thick / px:.2f}"


def test_torso_rotates_with_the_spine_and_keeps_a_body_depth_from_the_side():
    q, _ = standing(dtype=F64)
    frontal = part_affine(q)[0, PART["torso"]]
    # frontal: the hip -> shoulder line is up (-y), so the canonical x-row points up
    up = torch.tensor([0.0, -1.0], dtype=F64)
    assert_close_report(frontal[0, :2] / frontal[0, :2].norm(), up, 1e-12, "torso axis")
    shoulders, hips = 0.302, 0.266  # projected widths of the standing pose, normalised units
    want = math.sqrt(((shoulders**2 + hips**2) / 8) + (TORSO_HALF_DEPTH_MM / 1000) ** 2)
    assert abs(HALF_WIDTH_CANON / frontal[1, :2].norm() - want) < 1e-12
    side = q.clone()
    for name in ("l_shoulder", "r_shoulder"):
        side[0, IDX[name], 0] = 0.0
    for name in ("l_hip", "r_hip"):
        side[0, IDX[name], 0] = 0.0
    seen_from_side = part_affine(side, torch.tensor([2.0], dtype=F64))[0, PART["torso"]]
    assert abs(HALF_WIDTH_CANON / seen_from_side[1, :2].norm() - 2.0 * TORSO_HALF_DEPTH_MM / 1000) < 1e-12


def test_scale_sets_limb_thickness_and_none_means_one():
    q, depth = standing()
    theta1 = part_affine(q, torch.tensor([1.0], dtype=F64))
    theta2 = part_affine(q, torch.tensor([2.0], dtype=F64))
    assert torch.equal(part_affine(q), theta1)
    l = PART["l_upper_arm"]
    assert abs(theta1[0, l, 1, :2].norm() / theta2[0, l, 1, :2].norm() - 2.0) < 1e-12
    assert torch.equal(theta1[0, l, 0], theta2[0, l, 0]), "scale changes thickness, not length"
    assert torch.equal(part_maps(q, depth, (16, 16)), part_maps(q, depth, (16, 16), torch.ones(1, dtype=F64)))


# ----------------------------------------------------------------------------- conventions


def test_top_left_limb_lands_in_top_left_pixels_of_a_non_square_map():
    q, _ = standing()
    q = q.clone()
    l = PART["l_lower_arm"]
    q[0, IDX["l_elbow"]] = torch.tensor([-0.8, -0.6], dtype=F64)
    q[0, IDX["l_wrist"]] = torch.tensor([-0.4, -0.6], dtype=F64)  # horizontal, top-left
    height, width = 64, 96
    m = transformed_parts(q, (height, width))[0, l]
    rows = torch.arange(height, dtype=F64)[:, None]
    cols = torch.arange(width, dtype=F64)[None, :]
    row = (m * rows).sum() / m.sum()
    col = (m * cols).sum() / m.sum()
    # pixel of normalised (x, y): col = (x + 1) W / 2 - 1/2, row = (y + 1) H / 2 - 1/2
    assert abs(col - ((-0.6 + 1) * width / 2 - 0.5)) < 0.3, f"col {col}"
    assert abs(row - ((-0.6 + 1) * height / 2 - 0.5)) < 0.3, f"row {row}"
    assert m[height // 2:].sum() == 0 and m[:, width // 2:].sum() == 0, "nothing outside the top-left quadrant"
    spread_cols = (m * (cols - col) ** 2).sum() / m.sum()
    spread_rows = (m * (rows - row) ** 2).sum() / m.sum()
    assert spread_cols > 4 * spread_rows, "a horizontal limb spreads along the columns"
    q[0, IDX["l_wrist"]] = torch.tensor([-0.8, -0.2], dtype=F64)  # vertical, pointing down
    m = transformed_parts(q, (height, width))[0, l]
    row = (m * rows).sum() / m.sum()
    spread_cols = (m * (cols - (m * cols).sum() / m.sum()) ** 2).sum() / m.sum()
    spread_rows = (m * (rows - row) ** 2).sum() / m.sum()
    assert spread_rows > 4 * spread_cols, "a vertical limb spreads along the rows"
    assert abs(row - ((-0.4 + 1) * height / 2 - 0.5)) < 0.3


def test_near_part_hides_far_part_and_swapping_depth_swaps_them():
    q, depth = standing()
    q = q.clone()
    # lower legs crossing in an X below the knees, away from every other part
    q[0, IDX["l_knee"]] = torch.tensor([-0.25, 0.35], dtype=F64)
    q[0, IDX["l_ankle"]] = torch.tensor([0.25, 0.85], dtype=F64)
    q[0, IDX["r_knee"]] = torch.tensor([0.25, 0.35], dtype=F64)
    q[0, IDX["r_ankle"]] = torch.tensor([-0.25, 0.85], dtype=F64)
    left, right = PART["l_lower_leg"], PART["r_lower_leg"]
    size = 64
    cross = ((0.0 + 1) * size / 2 - 0.5, (0.6 + 1) * size / 2 - 0.5)  # (col, row) of (0, 0.6)
    r, c = int(round(cross[1])), int(round(cross[0]))
    near_left = depth.clone()
    near_left[0, [IDX["l_knee"], IDX["l_ankle"]]] = -0.5
    near_left[0, [IDX["r_knee"], IDX["r_ankle"]]] = 0.5
    maps = part_maps(q, near_left, (size, size))
    phi = transformed_parts(q, (size, size))
    assert phi[0, left, r, c] > 0.99 and phi[0, right, r, c] > 0.99, "both legs cover the crossing"
    assert maps[0, left, r, c] > 0.99 and maps[0, right, r, c] < 0.01
    maps = part_maps(q, -near_left, (size, size))
    assert maps[0, right, r, c] > 0.99 and maps[0, left, r, c] < 0.01
    assert labels(maps)[0, r, c] == right + 1
    # away from the crossing the far leg stays fully visible: (x, y) = (-0.2, 0.8) on the right shin
    row, col = int(round((0.8 + 1) * size / 2 - 0.5)), int(round((-0.2 + 1) * size / 2 - 0.5))
    maps = part_maps(q, near_left, (size, size))
    assert maps[0, right, row, col] > 0.99 and maps[0, left, row, col] == 0


def test_composition_formula_and_background_product():
    g = torch.Generator().manual_seed(4)
    q = torch.rand(3, 17, 2, generator=g, dtype=F64) * 1.2 - 0.6
    depth = torch.rand(3, 17, generator=g, dtype=F64)
    size = (24, 20)
    maps = part_maps(q, depth, size, torch.full((3,), 1.5, dtype=F64))
    phi = transformed_parts(q, size, torch.full((3,), 1.5, dtype=F64))
    zl = part_depth(depth)
    expected = torch.empty_like(phi)
    for b in range(3):
        for l in range(NUM_PARTS):
            nearer = [k for k in range(NUM_PARTS) if zl[b, k] < zl[b, l]]
            expected[b, l] = phi[b, l] * torch.prod(1 - phi[b, nearer], dim=0) if nearer else phi[b, l]
    assert_close_report(maps, expected, 1e-12, "p_l = phi_l prod_nearer (1 - phi_k)")
    assert_close_report(composite_by_depth(phi, zl), maps, 1e-12, "composite_by_depth vs part_maps")
    assert maps.min() >= 0 and maps.sum(1).max() <= 1 + 1e-12
    assert_close_report(soft_labels(maps)[:, 0], torch.prod(1 - phi, dim=1), 1e-12, "background = prod(1 - phi)")


def test_part_depth_is_mean_of_anchor_depths():
    depth = torch.arange(17, dtype=F64)[None] * 0.1
    zl = part_depth(depth)
    torso = sum(IDX[n] for n in ("l_shoulder", "r_shoulder", "l_hip", "r_hip")) * 0.1 / 4
    assert abs(zl[0, PART["torso"]] - torso) < 1e-12
    assert abs(zl[0, PART["r_lower_arm"]] - 0.1 * (IDX["r_elbow"] + IDX["r_wrist"]) / 2) < 1e-12


# ----------------------------------------------------------------------------- twins, gradients


@pytest.mark.parametrize("dtype,atol", [(F64, 1e-10), (torch.float32, 2e-4)])
def test_batched_equals_loop_per_part_twin(dtype, atol):
    g = torch.Generator().manual_seed(5)
    q = (torch.rand(3, 17, 2, generator=g, dtype=F64) * 1.6 - 0.8).to(dtype)
    depth = torch.rand(3, 17, generator=g, dtype=F64).to(dtype)
    scale = (torch.rand(3, generator=g, dtype=F64) + 0.6).to(dtype)
    size = (40, 56)
    fast = part_maps(q, depth, size, scale)
    slow = naive_part_maps(q, depth, size, scale)
    assert fast.shape == slow.shape == (3, NUM_PARTS, 40, 56) and fast.dtype == dtype
    assert_close_report(fast, slow, atol, "part_maps vs naive_part_maps")
    assert slow.sum() > 50, "the poses must draw something"


def test_gradcheck_wrt_joints():
    q, depth = standing(scale=1.4)
    q = q.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda joints: part_maps(joints, depth, (8, 8), torch.tensor([2.0], dtype=F64)),
        (q,), eps=1e-7, atol=1e-6, rtol=1e-4, fast_mode=True,
    )
    # the full Jacobian for the joints of one arm (every output pixel of every part)
    arm = [IDX["l_shoulder"], IDX["l_elbow"], IDX["l_wrist"]]
    rest = q.detach().clone()

    def arm_maps(joints):
        full = rest.clone()
        full[:, arm] = joints
        return part_maps(full, depth, (8, 8), torch.tensor([2.0], dtype=F64))

    arm_joints = q[:, arm].detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(arm_maps, (arm_joints,), eps=1e-7, atol=1e-6, rtol=1e-4)


def test_gradients_reach_every_part_and_scale():
    q, depth = standing()
    q = q.clone().requires_grad_(True)
    scale = torch.tensor([1.0], dtype=F64, requires_grad=True)
    maps = part_maps(q, depth, (48, 48), scale)
    (maps * torch.linspace(0, 1, 48, dtype=F64)).sum().backward()
    assert torch.isfinite(q.grad).all() and torch.isfinite(scale.grad).all()
    assert (q.grad.abs().sum(-1) > 0).sum() >= 14, "every anchor joint should receive a gradient"
    assert scale.grad.abs() > 0


def test_footprint_composition_gradient_equals_exact_cumprod_gradient():
    g = torch.Generator().manual_seed(6)
    q = (torch.rand(2, 17, 2, generator=g, dtype=F64) * 1.2 - 0.6).requires_grad_(True)
    depth = torch.rand(2, 17, generator=g, dtype=F64)
    weights = torch.rand(2, NUM_PARTS, 32, 24, generator=g, dtype=F64)
    (part_maps(q, depth, (32, 24)) * weights).sum().backward()
    fast = q.grad.clone()
    q.grad = None
    (composite_by_depth(transformed_parts(q, (32, 24)), part_depth(depth)) * weights).sum().backward()
    assert_close_report(fast, q.grad, 1e-10, "d maps / d q, fast vs exact cumprod backward")
    assert fast.abs().sum() > 0


def dense_part_maps(q, depth, size, scale=None, validate=True):
    """Dense autograd twin: every part sampled on the whole image by ``F.affine_grid`` +
    ``F.grid_sample`` of its own canonical map, then :func:`composite_by_depth`."""
    theta = part_affine(q, scale, validate=validate)
    canonical = canonical_part_maps(dtype=q.dtype)
    batch = q.shape[0]
    phi = []
    for l in range(NUM_PARTS):
        grid = F.affine_grid(theta[:, l], [batch, 1, *size], align_corners=False)
        source = canonical[l].expand(batch, 1, -1, -1)
        phi.append(F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0])
    phi = torch.stack(phi, dim=1)
    return phi, composite_by_depth(phi, part_depth(depth))


def awkward_poses() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random poses plus exactly horizontal and vertical limbs, a limb reaching off the image,
    a very thin and a very thick scale, and a part shorter than a pixel."""
    g = torch.Generator().manual_seed(8)
    q = torch.rand(6, 17, 2, generator=g, dtype=F64) * 1.6 - 0.8
    depth = torch.rand(6, 17, generator=g, dtype=F64)
    scale = torch.tensor([1.0, 0.3, 2.5, 1.0, 1.0, 1.2], dtype=F64)
    base, base_depth = standing()
    q[3], depth[3] = base[0], base_depth[0]  # vertical limbs, horizontal shoulders and hips
    q[3, IDX["l_elbow"]] = q[3, IDX["l_shoulder"]] + torch.tensor([0.3, 0.0], dtype=F64)  # horizontal
    q[3, IDX["l_wrist"]] = q[3, IDX["l_elbow"]] + torch.tensor([0.0, -0.25], dtype=F64)  # vertical, up
    q[4, IDX["r_knee"]] = torch.tensor([0.95, 0.2], dtype=F64)
    q[4, IDX["r_ankle"]] = torch.tensor([1.4, 0.5], dtype=F64)  # mostly outside the image
    q[5, IDX["l_wrist"]] = q[5, IDX["l_elbow"]] + torch.tensor([0.01, -0.005], dtype=F64)  # under a pixel
    return q, depth, scale


def test_footprint_sampling_equals_dense_sampling_values_and_gradients():
    """part_maps samples only every part's footprint; a dense twin samples every pixel."""
    q, depth, scale = awkward_poses()
    q = q.requires_grad_(True)
    scale = scale.requires_grad_(True)
    size = (36, 52)
    phi_dense, maps_dense = dense_part_maps(q, depth, size, scale)
    maps = part_maps(q, depth, size, scale)
    assert_close_report(transformed_parts(q, size, scale), phi_dense, 1e-12, "transformed_parts vs dense")
    assert_close_report(maps, maps_dense, 1e-12, "part_maps vs dense")
    assert maps_dense.sum() > 100, "the poses must draw something"
    weights = torch.rand(maps.shape, generator=torch.Generator().manual_seed(9), dtype=F64)
    grad_q, grad_s = torch.autograd.grad((maps * weights).sum(), (q, scale))
    want_q, want_s = torch.autograd.grad((maps_dense * weights).sum(), (q, scale))
    assert_close_report(grad_q, want_q, 1e-10, "d maps / d q, footprints vs dense")
    assert_close_report(grad_s, want_s, 1e-10, "d maps / d scale, footprints vs dense")
    assert (grad_q[3].abs().sum(-1) > 0).sum() >= 14


def test_canonical_support_box_bounds_every_nonzero_sample():
    box = puppet._canonical_support(torch.device("cpu"), F64)
    assert box.shape == (NUM_PARTS, 2, 2)
    pixel = 2.0 / CANONICAL_SIZE
    # inside the tile (pixel centres of the map), so a footprint never reads a neighbour's tile
    assert box[..., 0].min() >= -1 + pixel / 2 and box[..., 1].max() <= 1 - pixel / 2
    c = torch.linspace(-1, 1, 1201, dtype=F64)
    points = torch.stack(torch.meshgrid(c, c, indexing="xy"), dim=-1).view(-1, 2)
    canonical = canonical_part_maps(dtype=F64)
    for l in range(NUM_PARTS):
        values = sample_at(canonical[l], points)
        hit = points[values > 0]
        inside = ((hit > box[l, :, 0]) & (hit < box[l, :, 1])).all()
        assert inside, f"{PARTS[l].name}: a non-zero sample lies outside the support box"
        slack = torch.cat((hit.amin(0) - box[l, :, 0], box[l, :, 1] - hit.amax(0)))
        assert slack.max() < 0.75 * pixel, f"{PARTS[l].name}: the box is looser than it needs to be"


def test_footprints_cover_a_small_part_of_the_maps_and_nothing_outside():
    q, _ = standing()
    size = (64, 64)
    theta = part_affine(q)
    parts = torch.arange(NUM_PARTS)[None]
    visible, pixel, channel_pixel, slot_sizes = puppet._sample_footprints(theta, parts, *size)
    assert len(visible) == len(pixel) == len(channel_pixel) == sum(slot_sizes)
    assert len(visible) < 0.08 * NUM_PARTS * size[0] * size[1], "only the parts' surroundings are sampled"
    assert len(torch.unique(channel_pixel)) == len(channel_pixel)
    assert torch.equal(channel_pixel % (size[0] * size[1]), pixel % (size[0] * size[1]))
    covered = torch.zeros(NUM_PARTS * size[0] * size[1], dtype=torch.bool)
    covered[channel_pixel] = True
    phi_dense, _ = dense_part_maps(q, torch.zeros(1, 17, dtype=F64), size)
    assert phi_dense.view(-1)[~covered].abs().max() == 0, "a part is non-zero outside its footprint"
    assert_close_report(1.0 - visible, phi_dense.view(-1)[channel_pixel], 1e-12, "footprint samples vs dense")


def test_model_path_keeps_samples_apart_on_nan_and_far_away_poses():
    g = torch.Generator().manual_seed(10)
    q = torch.rand(3, 17, 2, generator=g, dtype=F64) * 1.2 - 0.6
    depth = torch.rand(3, 17, generator=g, dtype=F64)
    clean = part_maps(q, depth, (20, 24))
    bad = q.clone()
    bad[1, IDX["r_knee"], 0] = float("nan")
    maps = part_maps(bad, depth, (20, 24), validate=False)
    assert torch.equal(maps[[0, 2]], clean[[0, 2]]), "a NaN pose must not touch other samples"
    far = (q + 10.0).requires_grad_(True)
    maps = part_maps(far, depth, (20, 24))
    assert maps.abs().max() == 0, "a pose far outside the image draws nothing"
    maps.sum().backward()
    assert far.grad.abs().max() == 0


def test_any_resolution_is_drawn_directly():
    q, depth = standing(dtype=torch.float32)
    fine = part_maps(q, depth, (128, 128))
    coarse = part_maps(q, depth, (64, 64))
    pooled = F.avg_pool2d(fine, 2)
    assert (pooled - coarse).abs().mean() < 5e-3
    assert part_maps(q, depth, (37, 53)).shape == (1, NUM_PARTS, 37, 53)


# ----------------------------------------------------------------------------- degenerate input


def test_bad_input_raises_value_error():
    q, depth = standing()
    with pytest.raises(ValueError, match="q_norm"):
        part_maps(q[:, :16], depth, (8, 8))
    with pytest.raises(ValueError, match="depth"):
        part_maps(q, depth[:, :3], (8, 8))
    with pytest.raises(ValueError, match="size"):
        part_maps(q, depth, (8,))
    with pytest.raises(ValueError, match="size"):
        part_maps(q, depth, (0, 8))
    bad = q.clone()
    bad[0, 3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        part_maps(bad, depth, (8, 8))
    bad_depth = depth.clone()
    bad_depth[0, 2] = float("inf")
    with pytest.raises(ValueError, match="NaN or Inf"):
        part_maps(q, bad_depth, (8, 8))
    with pytest.raises(ValueError, match="scale"):
        part_maps(q, depth, (8, 8), torch.tensor([-1.0], dtype=F64))
    with pytest.raises(ValueError, match="floating"):
        part_maps(q.long(), depth, (8, 8))


def test_zero_length_limb_raises_for_users_and_vanishes_for_the_model():
    q, depth = standing()
    q = q.clone()
    q[0, IDX["l_wrist"]] = q[0, IDX["l_elbow"]]
    with pytest.raises(ValueError, match="l_lower_arm"):
        part_maps(q, depth, (16, 16))
    q.requires_grad_(True)
    maps = part_maps(q, depth, (32, 32), validate=False)
    assert torch.isfinite(maps).all()
    assert maps[0, PART["l_lower_arm"]].max() < 1e-3, "a zero-length part shrinks to nothing"
    maps.sum().backward()
    assert torch.isfinite(q.grad).all()


# ----------------------------------------------------------------------------- labels and pictures


def hand_made_maps() -> torch.Tensor:
    """Four pixels: empty; inside part 2; even split part 0 / background; 0.9 part 0."""
    maps = torch.zeros(1, NUM_PARTS, 1, 4, dtype=F64)
    maps[0, 2, 0, 1] = 1.0
    maps[0, 0, 0, 2] = 0.5
    maps[0, 0, 0, 3] = 0.9
    return maps


def test_labels_soft_labels_foreground_uncertainty_on_hand_made_maps():
    maps = hand_made_maps()
    assert labels(maps).tolist() == [[[0, 3, 0, 1]]], "ties go to the background"
    soft = soft_labels(maps)
    assert soft.shape == (1, NUM_PARTS + 1, 1, 4)
    assert_close_report(soft.sum(1), torch.ones(1, 1, 4, dtype=F64), 1e-15, "soft labels sum")
    assert soft[0, 0, 0].tolist() == pytest.approx([1.0, 0.0, 0.5, 0.1])
    assert foreground(maps)[0, 0, 0].tolist() == pytest.approx([0.0, 1.0, 0.5, 0.9])
    h = -(0.9 * math.log2(0.9) + 0.1 * math.log2(0.1))
    assert uncertainty(maps)[0, 0, 0].tolist() == pytest.approx([0.0, 0.0, 1.0, h])
    three = torch.zeros(1, NUM_PARTS, 1, 1, dtype=F64)
    three[0, :3] = 0.3  # four labels share the mass: more than one bit, clipped
    assert uncertainty(three).item() == 1.0


def test_uncertainty_is_high_where_parts_meet_and_low_inside():
    q, depth = standing(dtype=torch.float32)
    maps = part_maps(q, depth, (96, 96))
    unc = uncertainty(maps)[0, 0]
    lab = labels(maps)[0]
    assert unc.min() >= 0 and unc.max() <= 1
    assert unc[lab == 0].median() == 0
    torso = lab == PART["torso"] + 1
    assert unc[torso].median() < 0.05
    assert unc.max() > 0.9


def test_label_helpers_reject_bad_input():
    with pytest.raises(ValueError):
        labels(torch.zeros(1, NUM_PARTS + 1, 4, 4))
    with pytest.raises(ValueError):
        foreground(torch.zeros(NUM_PARTS, 4, 4))
    with pytest.raises(ValueError, match="floating"):
        uncertainty(torch.zeros(1, NUM_PARTS, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError):
        draw_labels_rgb(torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"\[-1, 10\]"):
        draw_labels_rgb(torch.tensor([[11]]))


def test_draw_labels_rgb_palette():
    lab = torch.tensor([[[0, 1, 10, -1]]])
    rgb = draw_labels_rgb(lab)
    assert rgb.shape == (1, 1, 4, 3) and rgb.dtype == torch.uint8
    assert rgb[0, 0, 0].tolist() == [0, 0, 0], "background is black"
    assert rgb[0, 0, 1].tolist() == list(PALETTE[1]) and rgb[0, 0, 2].tolist() == list(PALETTE[10])
    assert rgb[0, 0, 3].tolist() == [128, 128, 128]
    assert len(set(PALETTE)) == NUM_PARTS + 1, "every label has its own colour"
    maps = hand_made_maps()
    mixed = draw_maps_rgb(maps)
    assert mixed.shape == (1, 1, 4, 3)
    assert mixed[0, 0, 1].tolist() == list(PALETTE[3])


def test_flat_parts_paints_each_part_its_mean_colour_by_hand():
    image = torch.arange(2 * 3 * 2 * 3, dtype=torch.float32).view(2, 3, 2, 3)
    label_map = torch.tensor([[[0, 1, 1], [2, 2, 1]], [[0, 0, 0], [0, 0, 2]]])
    flat = puppet.flat_parts(image, label_map, num_parts=2)
    # sample 0: part 1 at (0,1), (0,2), (1,2); part 2 at (1,0), (1,1); background (0,0) kept
    for c in range(3):
        part1 = (image[0, c, 0, 1] + image[0, c, 0, 2] + image[0, c, 1, 2]) / 3
        part2 = (image[0, c, 1, 0] + image[0, c, 1, 1]) / 2
        assert torch.allclose(flat[0, c], torch.stack([torch.stack([image[0, c, 0, 0], part1, part1]),
                                                      torch.stack([part2, part2, part1])]))
    # sample 1: one pixel of part 2 keeps its own colour, the rest is background
    assert torch.equal(flat[1], image[1])
    # the means carry the gradient back to the part's pixels
    image.requires_grad_(True)
    puppet.flat_parts(image, label_map, num_parts=2)[0, 0, 0, 1].backward()
    assert torch.allclose(image.grad[0, 0], torch.tensor([[0.0, 1 / 3, 1 / 3], [0.0, 0.0, 1 / 3]]))


def test_palette_image_by_hand():
    from partpose.geometry.puppet import PALETTE

    label_map = torch.tensor([[[0, 1], [2, 0]]])
    plate = torch.full((1, 3, 2, 2), 0.5)
    image = puppet.palette_image(label_map, plate)
    assert torch.equal(image[0, :, 0, 0], plate[0, :, 0, 0]) and torch.equal(image[0, :, 1, 1], plate[0, :, 1, 1])
    assert torch.allclose(image[0, :, 0, 1], torch.tensor(PALETTE[1], dtype=torch.float32) / 255.0)
    assert torch.allclose(image[0, :, 1, 0], torch.tensor(PALETTE[2], dtype=torch.float32) / 255.0)


def test_flat_parts_gain_scales_each_parts_mean():
    image = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    label_map = torch.randint(0, 3, (2, 4, 4), generator=torch.Generator().manual_seed(1))
    gain = torch.tensor([[0.5, 2.0], [1.0, 0.8]])
    plain, scaled = puppet.flat_parts(image, label_map, 2), puppet.flat_parts(image, label_map, 2, gain)
    for b in range(2):
        for part in (1, 2):
            where = label_map[b] == part
            assert torch.allclose(scaled[b][:, where], gain[b, part - 1] * plain[b][:, where])
    assert torch.equal(scaled[label_map[:, None].expand_as(image) == 0], image[label_map[:, None].expand_as(image) == 0])


def test_flat_parts_over_a_background_puts_it_where_no_part_is():
    image = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    plate = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    label_map = torch.randint(0, 3, (2, 4, 4), generator=torch.Generator().manual_seed(1))
    kept, over = puppet.flat_parts(image, label_map, 2), puppet.flat_parts(image, label_map, 2, background=plate)
    background = label_map[:, None].expand_as(image) == 0
    assert torch.equal(over[background], plate[background])
    assert torch.equal(over[~background], kept[~background])


def test_paint_parts_by_hand():
    label_map = torch.tensor([[[0, 1], [2, 2]]])
    colours = torch.tensor([[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]])  # (1, C=3, L=2)
    plate = torch.full((1, 3, 2, 2), 0.9)
    painted = puppet.paint_parts(label_map, colours, plate)
    assert torch.equal(painted[0, :, 0, 0], plate[0, :, 0, 0])
    assert torch.equal(painted[0, :, 0, 1], colours[0, :, 0])
    assert torch.equal(painted[0, :, 1, 0], colours[0, :, 1]) and torch.equal(painted[0, :, 1, 1], colours[0, :, 1])


def test_frame_part_colours_by_hand_with_a_missing_part_and_an_empty_sample():
    frame = torch.arange(3 * 3 * 2 * 2, dtype=torch.float32).view(3, 3, 2, 2)
    label_map = torch.tensor([[[0, 1], [1, 2]],  # both parts
                              [[0, 1], [1, 0]],  # part 2 missing: the person's mean colour
                              [[0, 0], [0, 0]]])  # no part at all: grey
    colours = puppet.frame_part_colours(frame, label_map, num_parts=2)
    assert colours.shape == (3, 3, 2)
    for c in range(3):
        assert colours[0, c, 0] == (frame[0, c, 0, 1] + frame[0, c, 1, 0]) / 2
        assert colours[0, c, 1] == frame[0, c, 1, 1]
        assert colours[1, c, 0] == colours[1, c, 1] == (frame[1, c, 0, 1] + frame[1, c, 1, 0]) / 2
    assert torch.equal(colours[2], torch.full((3, 2), 0.5))
