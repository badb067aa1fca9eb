# The grader's image, for Kubernetes (`autograder cluster kubernetes`), Docker, or a Gradescope-like
# layout: a Python 3.11 virtual environment at /opt/venv with the pinned CPU build of torch and
# this toolkit installed in place (it reads solutions/ and the assignments from this checkout).
# Student code is isolated with what the engine's default security allows (the uid mode: see the
# README, Security); no capability or seccomp profile needs to be added.
#
#   docker build -t dl-autograder .                          # python:3.11-slim, torch from PyPI's CPU index
#   docker build --build-arg BASE=my-bookworm --build-arg WHEELS=wheels -t dl-autograder .   # offline
#
# BASE: any Debian or Ubuntu image with python3 (3.11) and its venv module (a registry's
# python:3.11-slim-bookworm, or a debootstrap'd bookworm, as .ci/run makes). WHEELS: a folder of
# this build context holding every wheel the install needs (`pip download`): then nothing is
# fetched. TORCH_INDEX: where torch's CPU build comes from otherwise.
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}
ARG WHEELS=""
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/dl-autograder
COPY . .
RUN python3 -m venv /opt/venv \
 && if [ -n "$WHEELS" ]; then \
      pip install --no-cache-dir --no-index --find-links "$WHEELS" -e '.[grading]'; \
    else \
      pip install --no-cache-dir torch==2.13.0 --index-url "$TORCH_INDEX" \
      && pip install --no-cache-dir -e '.[grading]'; \
    fi \
 && python -c "import autograder.otter_plugin, torch, pyseccomp; print('torch', torch.__version__)"
CMD ["autograder", "--help"]
