"""espnet_speechllm: an ESPnet2 plugin that gives large language models ears."""

from setuptools import find_packages, setup

# Pinned to one set that installs together on Python 3.11 (see README):
# espnet 202511 is the newest release for 3.11; torchaudio is needed by
# `import espnet2`; torch 2.12.1 is pinned to keep pip from backtracking.
install_requires = [
    "torch==2.12.1",
    "torchaudio==2.11.0",
    "espnet==202511",
    "transformers==5.23.0",
    "peft==0.21.2",
    "tokenizers>=0.22",
    "sentencepiece>=0.2",
    "espnet_model_zoo>=0.1.7",
    "jiwer>=4.0",
    "sacrebleu>=2.4",
    "kaldiio>=2.18",
    "soundfile>=0.12",
    "matplotlib>=3.8",
    "tensorboard>=2.15",
    "lhotse==1.33.0",  # local/lhotse_to_kaldi.py, kaldi_to_lhotse.py (manifest interchange)
    "scikit-learn>=1.3",  # recipe/empty_gate.py (logistic regression; librosa needs it too)
]

setup(
    name="espnet_speechllm",
    version="0.1.0",
    description="LLM-based speech recognition, translation and spoken QA for ESPnet2",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["espnet_speechllm", "espnet_speechllm.*"]),
    install_requires=install_requires,
    extras_require={"test": ["pytest>=8"], "gguf": ["gguf>=0.10"]},
    entry_points={
        "console_scripts": [
            "speechllm_train=espnet_speechllm.bin.speechllm_train:main",
            "speechllm_inference=espnet_speechllm.bin.speechllm_inference:main",
        ]
    },
)
