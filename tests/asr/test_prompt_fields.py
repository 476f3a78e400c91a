import torch

from espnet2.train.collate_fn import CommonCollateFn
from espnet_speechllm.asr.prompt_fields import decode_field, encode_field, fields_of


def test_field_round_trip_through_the_collate():
    batch = [("a", {"lang": encode_field("German")}), ("b", {"lang": encode_field("é")})]
    _, data = CommonCollateFn(int_pad_value=-1)(batch)
    assert data["lang"].tolist() == [[71, 101, 114, 109, 97, 110], [233, -1, -1, -1, -1, -1]]
    assert decode_field(data["lang"], data["lang_lengths"]) == ["German", "é"]
    assert fields_of(data) == [{"lang": "German"}, {"lang": "é"}]
    assert fields_of({"speech": torch.zeros(1)}) is None


def test_encode_field_strips_whitespace():
    assert encode_field("  de \n").tolist() == [100, 101]
