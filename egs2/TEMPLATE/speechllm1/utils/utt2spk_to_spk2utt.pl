#!/usr/bin/env perl
# Kaldi's utils/utt2spk_to_spk2utt.pl command line, run by our Python (espnet_speechllm/recipe/kaldi_utils.py).
exec("python3", "-m", "espnet_speechllm.recipe.kaldi_utils", "utt2spk_to_spk2utt", @ARGV) or die "$0: cannot run python3: $!\n";
