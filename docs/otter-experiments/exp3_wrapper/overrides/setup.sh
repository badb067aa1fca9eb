#!/usr/bin/env bash
# Lean Gradescope setup: Miniforge + one conda env from environment.yml; no TeX, pandoc,
# nb_conda_kernels or playwright/chromium. (Not executed here: no Docker/internet.)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends wget ca-certificates
ARCH=$(uname -m)   # x86_64 or aarch64
wget -nv "https://github.com/conda-forge/miniforge/releases/download/25.3.1-0/Miniforge3-Linux-${ARCH}.sh" -O /tmp/miniforge.sh
bash /tmp/miniforge.sh -b -p /root/miniforge3
export PATH=/root/miniforge3/bin:$PATH
mamba env create -f /autograder/source/environment.yml   # name: otter-env
/root/miniforge3/envs/otter-env/bin/python -c "import otter, torch, numpy; print(otter.__version__, torch.__version__, numpy.__version__)"
