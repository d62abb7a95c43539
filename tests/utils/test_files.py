"""utils.files.atomic_path: the file appears whole when the block ends, and a failed block leaves
the old file and no temporary one."""

import numpy as np
import pytest

from partpose.utils.files import atomic_path


def test_the_file_appears_only_when_the_block_ends(tmp_path):
    path = tmp_path / "sub" / "result.json"
    with atomic_path(path) as tmp:
        tmp.write_text("new")
        assert tmp.parent == path.parent and not path.exists()
    assert path.read_text() == "new" and list(path.parent.iterdir()) == [path]


def test_a_failed_block_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "result.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("stopped mid-write")
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]


def test_a_suffix_keeps_numpy_from_renaming_the_temporary_file(tmp_path):
    path = tmp_path / "maps.npy"
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, np.arange(3))
    np.testing.assert_array_equal(np.load(path), np.arange(3))
    assert list(tmp_path.iterdir()) == [path]
