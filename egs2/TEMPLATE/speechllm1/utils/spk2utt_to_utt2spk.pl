#!/usr/bin/env perl
# Kaldi's utils/spk2utt_to_utt2spk.pl command line, run by our Python (espnet_speechllm/recipe/kaldi_utils.py).
exec("python3", "-m", "espnet_speechllm.recipe.kaldi_utils", "spk2utt_to_utt2spk", @ARGV) or die "$0: cannot run python3: $!\n";
