#!/usr/bin/env perl
# Kaldi's utils/filter_scp.pl command line, run by our Python (espnet_speechllm/recipe/kaldi_utils.py).
exec("python3", "-m", "espnet_speechllm.recipe.kaldi_utils", "filter_scp", @ARGV) or die "$0: cannot run python3: $!\n";
