"""Stage 15: upload_hf skips cleanly offline and pushes the extracted archive online."""

import zipfile
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import constants

from espnet_speechllm.recipe import upload_hf


@pytest.fixture
def packed(tmp_path) -> Path:
    path = tmp_path / "exp" / "model.zip"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.yaml", "files: {model_file: exp/x/model.pth}\nyaml_files: {}\n")
        zf.writestr("README.md", "# x\n")
        zf.writestr("exp/x/model.pth", b"weights")
    return path


class FakeApi:
    calls = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, repo_id, folder_path, **kwargs):
        files = sorted(
            str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*") if p.is_file()
        )
        self.calls.append(("upload_folder", repo_id, files))
        return type("CommitInfo", (), {"commit_url": f"https://hub/{repo_id}/commit/1"})()


@pytest.fixture
def api(monkeypatch):
    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    return FakeApi


@pytest.fixture
def online(monkeypatch):
    """Not offline, a token, a reachable Hub (no real connection is made)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_fake")
    monkeypatch.setattr(upload_hf, "hub_reachable", lambda endpoint: True)


def _listing(root: Path):
    return sorted(str(p) for p in root.rglob("*"))


def test_offline_env_skips_and_writes_nothing(packed, api, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    before = _listing(tmp_path)
    upload_hf.main(["--packed_model", str(packed), "--hf_repo", "me/model"])
    out = capsys.readouterr().out
    assert "offline (HF_HUB_OFFLINE is set): skipped" in out
    assert api.calls == []
    assert _listing(tmp_path) == before


def test_no_token_skips(packed, api, online, monkeypatch, capsys):
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    upload_hf.main(["--packed_model", str(packed), "--hf_repo", "me/model"])
    assert "offline (no Hugging Face token" in capsys.readouterr().out
    assert api.calls == []


def test_no_network_skips(packed, api, online, monkeypatch, capsys):
    monkeypatch.setattr(upload_hf, "hub_reachable", lambda endpoint: False)
    upload_hf.main(["--packed_model", str(packed), "--hf_repo", "me/model"])
    assert "offline (cannot reach" in capsys.readouterr().out
    assert api.calls == []


def test_hub_reachable_false_for_closed_port():
    assert not upload_hf.hub_reachable("http://127.0.0.1:9", timeout=1)


def test_online_uploads_the_extracted_archive(packed, api, online, capsys):
    upload_hf.main(["--packed_model", str(packed), "--hf_repo", "me/model"])
    assert api.calls[0][:2] == ("create_repo", "me/model")
    assert api.calls[0][2]["exist_ok"] is True
    assert api.calls[1] == (
        "upload_folder",
        "me/model",
        ["README.md", "exp/x/model.pth", "meta.yaml"],
    )
    assert "uploaded" in capsys.readouterr().out


def test_upload_error_fails(packed, online, monkeypatch):
    class Failing(FakeApi):
        def upload_folder(self, repo_id, folder_path, **kwargs):
            raise RuntimeError("401 Unauthorized")

    monkeypatch.setattr(huggingface_hub, "HfApi", Failing)
    with pytest.raises(SystemExit, match="401 Unauthorized"):
        upload_hf.main(["--packed_model", str(packed), "--hf_repo", "me/model"])


@pytest.mark.parametrize("what", ["missing", "not_zip", "empty_repo"])
def test_bad_arguments_fail_even_offline(tmp_path, monkeypatch, what):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = tmp_path / "model.zip"
    if what == "not_zip":
        model.write_text("not a zip")
    elif what == "empty_repo":
        with zipfile.ZipFile(model, "w") as zf:
            zf.writestr("meta.yaml", "")
    repo = "" if what == "empty_repo" else "me/model"
    with pytest.raises(SystemExit) as e:
        upload_hf.main(["--packed_model", str(model), "--hf_repo", repo])
    assert e.value.code not in (0, None)
