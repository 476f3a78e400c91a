import pytest

from espnet_speechllm.utils.atomic_file import atomic_path


def test_the_file_is_replaced_only_when_the_block_succeeds(tmp_path):
    path = tmp_path / "init.pth"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt  # a crash while writing
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]
    with atomic_path(path) as tmp:
        assert tmp.parent == tmp_path and tmp != path
        tmp.write_text("new")
    assert path.read_text() == "new" and list(tmp_path.iterdir()) == [path]
