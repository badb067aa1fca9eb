# Sourced by .ci/run as root: start a Docker daemon of CI's own and build the repository's image on
# a debootstrap'd Debian bookworm. Exports DOCKER_HOST, AGR_DOCKER and AGR_TEST_IMAGE for the tests,
# and AGR_REQUIRE_CONTAINERS=1: in CI the container tests must run, not skip.
AGR_CI_DOCKER=/var/tmp/agr-ci-docker
need=""
[ -x /usr/bin/docker ] && command -v dockerd >/dev/null || need="$need docker.io"
command -v debootstrap >/dev/null || need="$need debootstrap"
if [ -n "$need" ]; then
  apt-get install -y -qq $need >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $need >/dev/null; }
fi

stop_containers() {
  [ -f "$AGR_CI_DOCKER/pid" ] && kill "$(cat "$AGR_CI_DOCKER/pid")" 2>/dev/null
  for _ in $(seq 50); do [ -f "$AGR_CI_DOCKER/pid" ] || break; sleep 0.2; done
  rm -rf "$AGR_CI_DOCKER"
}

stop_containers
trap 'stop_containers' EXIT  # .ci/run's own trap, set later, calls it too
mkdir -p "$AGR_CI_DOCKER"
dockerd --data-root "$AGR_CI_DOCKER/root" --exec-root "$AGR_CI_DOCKER/exec" -H "unix://$AGR_CI_DOCKER/docker.sock" \
  --pidfile "$AGR_CI_DOCKER/pid" --iptables=false --bridge=none >"$AGR_CI_DOCKER/dockerd.log" 2>&1 &
export DOCKER_HOST="unix://$AGR_CI_DOCKER/docker.sock" AGR_DOCKER=/usr/bin/docker
for _ in $(seq 100); do /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.3; done
/usr/bin/docker info >/dev/null

start=$(date +%s)
rootfs="$AGR_CI_DOCKER/bookworm"
debootstrap --variant=minbase --include=python3,python3-venv,libseccomp2,procps \
  bookworm "$rootfs" http://deb.debian.org/debian >"$AGR_CI_DOCKER/debootstrap.log" 2>&1
tar -C "$rootfs" -c . | /usr/bin/docker import - agr-bookworm:ci >/dev/null
rm -rf "$rootfs"
# Every wheel the image installs, for the image's Python (Debian's 3.11.2), from this machine's
# pip (its cache and its CPU build of torch); the toolkit itself is built in the image.
rm -rf .ci-wheels && mkdir .ci-wheels
python - > .ci-wheels/requirements.txt <<'PY'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["grading"] + ["setuptools>=61", "wheel"]))
PY
python -m pip download --quiet --python-version 3.11.2 --only-binary=:all: -d .ci-wheels -r .ci-wheels/requirements.txt
/usr/bin/docker build --network none -q --build-arg BASE=agr-bookworm:ci --build-arg WHEELS=.ci-wheels \
  -t dl-autograder:ci . >/dev/null
rm -rf .ci-wheels
export AGR_TEST_IMAGE=dl-autograder:ci AGR_REQUIRE_CONTAINERS=1
echo "containers: engine, base image and dl-autograder:ci built in $(( $(date +%s) - start )) s"
