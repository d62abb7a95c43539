"""A body on all fours seen by cameras worked out by hand, for the tests of which end of it is nearer."""

import torch

# On all fours, world metres (z up): the hands and the knees and shins on the floor, the head's end
# along +x, the body 0.9 m long.
CRAWLING_WORLD = (
    (0.0, 0.0, 0.5), (0.0, -0.12, 0.5), (0.0, -0.12, 0.0), (-0.45, -0.12, 0.0), (0.0, 0.12, 0.5),
    (0.0, 0.12, 0.0), (-0.45, 0.12, 0.0), (0.25, 0.0, 0.52), (0.5, 0.0, 0.55), (0.62, 0.0, 0.5), (0.7, 0.0, 0.55),
    (0.5, 0.17, 0.55), (0.5, 0.18, 0.28), (0.5, 0.18, 0.0), (0.5, -0.17, 0.55), (0.5, -0.18, 0.28), (0.5, -0.18, 0.0),
)


def crawlers_seen(heading_deg: torch.Tensor, elevation_deg: torch.Tensor, roll_deg: torch.Tensor):
    """The crawler turned by ``heading`` about the world's up, 4.5 m from a camera that looks at its
    pelvis from ``elevation`` above (negative: below), rolled by ``roll`` about its line of sight:
    ``(B, 17, 3)`` camera coordinates (x right, y down, z forward; metres, the camera at 0) and
    ``(B, 3)`` the world's up in them, worked out from the camera's axes in the world."""
    h, e, r = (torch.deg2rad(x.to(torch.float64)) for x in (heading_deg, elevation_deg, roll_deg))
    zero, one = torch.zeros_like(h), torch.ones_like(h)
    turn = torch.stack((torch.stack((h.cos(), -h.sin(), zero), -1), torch.stack((h.sin(), h.cos(), zero), -1),
                        torch.stack((zero, zero, one), -1)), -2)  # (B, 3, 3) about the world's z
    body = torch.tensor(CRAWLING_WORLD, dtype=torch.float64) @ turn.transpose(1, 2)
    pelvis = body[:, :1]
    # the camera sits along the world's -x from the pelvis, up by the elevation, and looks at it
    forward = torch.stack((e.cos(), zero, -e.sin()), -1)
    camera = pelvis[:, 0] - 4.5 * forward
    right = torch.stack((zero, -one, zero), -1)  # the world's -y: x right for a camera looking along +x
    down = torch.linalg.cross(forward, right, dim=-1)
    right, down = r.cos()[:, None] * right + r.sin()[:, None] * down, -r.sin()[:, None] * right + r.cos()[:, None] * down
    cam_from_world = torch.stack((right, down, forward), dim=1)  # rows: the camera's axes in the world
    pose = torch.einsum("bij,bkj->bki", cam_from_world, body - camera[:, None])
    up = cam_from_world @ torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    return pose, up
