"""Crafted model archives are refused before anything is written outside the target."""

import io
import tarfile
import zipfile

import pytest
import yaml

from espnet_speechllm.pretrained.archive import (
    UnsafeArchiveError,
    check_archive,
    default_unpack_dir,
    packed_model,
    unpack_archive,
)

META = {"yaml_files": {"train_config": "exp/x/config.yaml"}, "files": {"model_file": "exp/x/m.pth"}}
GOOD = {"exp/x/config.yaml": b"token_list: exp/tok/t.json\n", "exp/x/m.pth": b"w", "exp/tok/t.json": b"{}"}


def _zip(path, members, meta=META):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.yaml", yaml.safe_dump(meta))
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def _tar(path, members, meta=META, links=()):
    with tarfile.open(path, "w:gz") as tf:
        for name, data in [("meta.yaml", yaml.safe_dump(meta).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, kind, target in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tf.addfile(info)
    return path


def _nothing_written(root, target):
    assert not target.exists()
    assert sorted(p.name for p in root.iterdir()) == ["a.zip" if (root / "a.zip").exists() else "a.tar.gz"]


def test_a_good_archive_round_trips_with_rewritten_paths(tmp_path):
    for arc in (_zip(tmp_path / "a.zip", GOOD), _tar(tmp_path / "a.tar.gz", GOOD)):
        out = tmp_path / ("z" if arc.suffix == ".zip" else "t")
        files = unpack_archive(arc, out)
        assert files == {
            "train_config": str(out / "exp/x/config.yaml"),
            "model_file": str(out / "exp/x/m.pth"),
        }
        config = yaml.safe_load((out / "exp/x/config.yaml").read_text())
        assert config == {"token_list": str(out / "exp/tok/t.json")}
        assert (out / "exp/x/m.pth").read_bytes() == b"w"
    assert default_unpack_dir(tmp_path / "m_valid.acc.ave.zip") == tmp_path / "m_valid.acc.ave"
    assert default_unpack_dir(tmp_path / "m.tar.gz") == tmp_path / "m"


@pytest.mark.parametrize("name", ["../evil.txt", "exp/../../evil.txt", "/ABS/evil.txt", "..\\evil.txt"])
@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_members_outside_the_target_are_refused(tmp_path, name, kind):
    root = tmp_path / "root"
    root.mkdir()
    name = name.replace("/ABS", str(tmp_path))
    members = dict(GOOD, **{name: b"pwned"})
    arc = _zip(root / "a.zip", members) if kind == "zip" else _tar(root / "a.tar.gz", members)
    why = {str(tmp_path)[0]: "an absolute path", ".": "'..' leaves the target", "e": "'..' leaves the target"}[name[0]]
    if "\\" in name:
        why = "a backslash"
    with pytest.raises(UnsafeArchiveError, match=f"member {name!r}: {why}".replace("\\", "\\\\")):
        unpack_archive(arc, root / "out")
    _nothing_written(root, root / "out")
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize(
    "link, why",
    [
        (("exp/tok/x", tarfile.SYMTYPE, "/etc/passwd"), "a symlink"),
        (("exp/tok/y", tarfile.SYMTYPE, "../../.."), "a symlink"),
        (("exp/tok/z", tarfile.LNKTYPE, "/etc/passwd"), "a hard link"),
        (("exp/tok/f", tarfile.FIFOTYPE, ""), "a special file"),
    ],
)
def test_links_and_special_files_are_refused(tmp_path, link, why):
    arc = _tar(tmp_path / "a.tar.gz", GOOD, links=[link])
    with pytest.raises(UnsafeArchiveError, match=f"member '{link[0]}': {why}"):
        unpack_archive(arc, tmp_path / "out")
    _nothing_written(tmp_path, tmp_path / "out")


def test_zip_symlinks_are_refused(tmp_path):
    arc = _zip(tmp_path / "a.zip", GOOD)
    with zipfile.ZipFile(arc, "a") as zf:
        info = zipfile.ZipInfo("exp/tok/link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="member 'exp/tok/link': a symlink"):
        unpack_archive(arc, tmp_path / "out")


@pytest.mark.parametrize(
    "value, why",
    [("../../x.yaml", "'..' leaves the target"), ("/ABS/x.yaml", "an absolute path"),
     ("exp/x/other.yaml", "not in the archive")],
)
def test_meta_yaml_paths_outside_the_target_are_refused(tmp_path, value, why):
    """espnet2's unpack writes the yaml_files it names (see the next test)."""
    value = value.replace("/ABS", str(tmp_path))
    meta = {"yaml_files": {"train_config": value}, "files": {"model_file": "exp/x/m.pth"}}
    arc = _zip(tmp_path / "a.zip", dict(GOOD, **{value: b"a: 1\n"}) if why != "not in the archive" else GOOD, meta)
    with pytest.raises(UnsafeArchiveError):
        check_archive(arc)
    with pytest.raises(UnsafeArchiveError, match=f"train_config={value!r}: {why}|member {value!r}"):
        unpack_archive(arc, tmp_path / "out")
    assert not (tmp_path / "x.yaml").exists() and not (tmp_path / "out").exists()


def test_espnet2_unpack_writes_outside_where_this_refuses(tmp_path):
    """The hazard: espnet2's unpack of a meta.yaml yaml_file '../x.yaml' writes it."""
    from espnet2.main_funcs.pack_funcs import unpack

    meta = {"yaml_files": {"train_config": "../x.yaml"}, "files": {"model_file": "exp/x/m.pth"}}
    arc = _zip(tmp_path / "a.zip", dict(GOOD, **{"../x.yaml": b"pwned: 1\n"}), meta)
    unpack(arc, tmp_path / "out" / "model")
    assert (tmp_path / "out" / "x.yaml").exists()
    with pytest.raises(UnsafeArchiveError):
        unpack_archive(arc, tmp_path / "out2" / "model")
    assert not (tmp_path / "out2").exists()


def test_a_directory_needs_meta_yaml_and_paths_inside(tmp_path):
    with pytest.raises(UnsafeArchiveError, match="no meta.yaml"):
        with packed_model(tmp_path):
            pass
    (tmp_path / "meta.yaml").write_text(yaml.safe_dump(
        {"yaml_files": {"train_config": "../config.yaml"}, "files": {"model_file": "m.pth"}}
    ))
    with pytest.raises(UnsafeArchiveError, match="train_config='../config.yaml': '..' leaves"):
        with packed_model(tmp_path):
            pass
