import torch

from espnet_speechllm.asr.projector.linear_projector import LinearProjector


def test_projects_each_frame_and_zeroes_padding():
    projector = LinearProjector(2, 1)
    with torch.no_grad():
        projector.linear.weight.copy_(torch.tensor([[1.0, 10.0]]))
        projector.linear.bias.fill_(0.5)
    hs = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    ys, ylens = projector(hs, torch.tensor([2]))
    assert ys.flatten().tolist() == [21.5, 43.5, 0.0] and ylens.tolist() == [2]


def test_output_size():
    assert LinearProjector(3, 7).output_size() == 7
