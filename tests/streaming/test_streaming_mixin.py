"""The model's online data path: features, encoder, compression and projection per chunk."""

import pytest
import torch

from espnet_speechllm.asr.layers.stft_stream import final_frame_window
from espnet_speechllm.tasks.speechllm import SpeechLLMTask


@pytest.fixture(scope="module")
def model(streaming_exp):
    model, _ = SpeechLLMTask.build_model_from_file(
        streaming_exp / "config.yaml", streaming_exp / "model.pth", "cpu"
    )
    return model.eval()


@pytest.mark.parametrize("n_samples", [300, 1600, 4321])
def test_window_frames_are_the_whole_signal_frames(n_samples):
    """Every frame that final_frame_window keeps equals the same frame of the full signal."""
    from espnet2.asr.frontend.default import DefaultFrontend

    frontend = DefaultFrontend(n_fft=512, hop_length=160)
    x = torch.randn(1, 6000)
    full, _ = frontend(x, torch.tensor([6000]))
    done = 0
    for n, final in ((n_samples, False), (6000, True)):
        win = final_frame_window(done, n, 512, 160, final)
        feats, _ = frontend(x[:, win.start : win.stop], torch.tensor([win.stop - win.start]))
        got = feats[:, win.first : win.last]
        g0 = win.start // 160 + win.first
        assert g0 == done
        torch.testing.assert_close(got, full[:, g0 : g0 + got.size(1)], rtol=0, atol=1e-4)
        done += got.size(1)
    assert done == full.size(1)


@pytest.mark.parametrize("chunk", [2560, 10240, 100000])
def test_chunked_positions_equal_offline(model, an4_wavs, chunk):
    for key, wav in list(an4_wavs.items())[:3]:
        speech = torch.from_numpy(wav)
        with torch.no_grad():
            ref, ref_lens = model.encode(speech[None], torch.tensor([speech.numel()]))
        state, outs = model.new_stream(), []
        for start in range(0, speech.numel(), chunk):
            audio, state = model.encode_chunk(
                speech[start : start + chunk], state, start + chunk >= speech.numel()
            )
            assert audio.shape[0] == 1 and audio.shape[2] == model.decoder.output_size()
            outs.append(audio)
        out = torch.cat(outs, dim=1)
        assert out.size(1) == int(ref_lens[0]) == state.n_audio, key
        assert state.n_frames == state.ctc_posteriors().size(0)
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-4)


def test_positions_grow_with_the_audio(model, an4_wavs):
    wav = torch.from_numpy(max(an4_wavs.values(), key=len))
    state, counts = model.new_stream(), []
    for start in range(0, wav.numel(), 4000):
        audio, state = model.encode_chunk(wav[start : start + 4000], state, False)
        counts.append(state.n_audio)
    assert counts[0] < counts[-1], counts  # positions come before the end of the utterance
    assert counts == sorted(counts)
