# The grader's image, for Kubernetes (`autograder cluster kubernetes`) or any container engine:
# Debian's Python 3.11, the pinned CPU build of torch, this toolkit installed in place (it reads
# solutions/ and the assignments from this checkout). Not built on the development machine,
# which has no container engine; `.ci/run` is the tested install.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium-headless-shell poppler-utils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/dl-autograder
COPY . .
# CPU-only torch first, from PyTorch's CPU index: an unpinned or default torch pulls CUDA.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir -e .
CMD ["autograder", "--help"]
