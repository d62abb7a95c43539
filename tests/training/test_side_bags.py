import pytest
import torch

from partpose.training.side_bags import bag_hash, side_bags


def _hash_by_hand(video: int, member: int) -> float:
    """The same hash in Python's unbounded integers, one operation at a time."""
    h = (video * 2654435761 + (member + 1) * 0x9E3779B9) % 2**32
    for _ in range(2):
        h = ((h ^ (h >> 16)) * 0x45D9F3B) % 2**32
    return (h ^ (h >> 16)) / 2**32


def test_the_hash_matches_its_twin_in_python_integers():
    videos = torch.tensor([0, 1, 2, 17, 1000, 123456, 2**31 - 1])
    for member in (0, 1, 5, 2**16 - 1):
        expected = torch.tensor([_hash_by_hand(int(v), member) for v in videos], dtype=torch.float64)
        torch.testing.assert_close(bag_hash(videos, member), expected, rtol=0, atol=0)


def test_each_bag_holds_about_the_fraction_of_the_videos_and_the_bags_are_independent():
    videos = torch.arange(20000)
    bags = side_bags(videos, 3, 0.5)
    assert bags.shape == (3, 20000) and bags.dtype == torch.bool
    shares = bags.double().mean(dim=1)
    assert torch.all((shares - 0.5).abs() < 0.015), shares
    # independent: a video in two given bags about a quarter of the time, in all three an eighth
    assert float((bags[0] & bags[1]).double().mean()) == pytest.approx(0.25, abs=0.015)
    assert float(bags.all(dim=0).double().mean()) == pytest.approx(0.125, abs=0.01)
    assert not torch.equal(bags[0], bags[1])
    # fixed: the same videos give the same bags, in any order
    order = torch.randperm(20000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(side_bags(videos[order], 3, 0.5), bags[:, order])
    # a smaller fraction's bags lie within a larger one's
    assert torch.all(side_bags(videos, 3, 0.3) <= bags)


def test_a_whole_fraction_puts_every_video_in_every_bag_and_bad_input_is_refused():
    assert side_bags(torch.tensor([3, 4, 5]), 2, 1.0).all()
    with pytest.raises(ValueError, match="fraction"):
        side_bags(torch.tensor([3]), 2, 0.0)
    with pytest.raises(ValueError, match="video_index"):
        side_bags(torch.tensor([[3]]), 2, 0.5)
