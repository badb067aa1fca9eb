# Sourced by .ci/run as root: start a Docker daemon of CI's own and build the repository's image on
# a debootstrap'd Debian bookworm. Exports DOCKER_HOST, AGR_DOCKER and AGR_TEST_IMAGE for the tests,
# and AGR_REQUIRE_CONTAINERS=1: in CI the container tests must run, not skip.
need=""
[ -x /usr/bin/docker ] && command -v dockerd >/dev/null || need="$need docker.io"
command -v debootstrap >/dev/null || need="$need debootstrap"
if [ -n "$need" ]; then
  apt-get install -y -qq $need >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $need >/dev/null; }
fi

# A daemon's folder: its pid file, socket, logs and data root. dockerd binds its data root onto
# itself, and a machine whose processes were stopped keeps that mount: a folder is unmounted
# before it is removed, and each run makes a new one, so a leftover never stops CI.
stop_containers_in() {
  local dir=$1 pid
  pid=$(cat "$dir/pid" 2>/dev/null) || pid=""
  # a pid file left by a machine that stopped may name some other process by now
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.2; done
  fi
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$dir" 2>/dev/null || echo "containers: could not remove $dir (left for the next run)" >&2
}
stop_containers() { [ -n "${AGR_CI_DOCKER:-}" ] && stop_containers_in "$AGR_CI_DOCKER"; return 0; }

for old in /var/tmp/agr-ci-docker*; do [ -e "$old" ] && stop_containers_in "$old"; done
AGR_CI_DOCKER=$(mktemp -d /var/tmp/agr-ci-docker.XXXXXX)
trap 'stop_containers' EXIT  # .ci/run's own trap, set later, calls it too
dockerd --data-root "$AGR_CI_DOCKER/root" --exec-root "$AGR_CI_DOCKER/exec" -H "unix://$AGR_CI_DOCKER/docker.sock" \
  --pidfile "$AGR_CI_DOCKER/pid" --iptables=false --bridge=none >"$AGR_CI_DOCKER/dockerd.log" 2>&1 &
export DOCKER_HOST="unix://$AGR_CI_DOCKER/docker.sock" AGR_DOCKER=/usr/bin/docker
for _ in $(seq 100); do /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.3; done
/usr/bin/docker info >/dev/null || { echo "containers: dockerd did not start:" >&2; tail -n 20 "$AGR_CI_DOCKER/dockerd.log" >&2; exit 1; }
echo "containers: dockerd started ($(/usr/bin/docker version --format '{{.Server.Version}}'))"

start=$(date +%s)
rootfs="$AGR_CI_DOCKER/bookworm"
# Debian's archive is the one registry this step reaches; a failed download is tried again once,
# and a failure prints the log's tail (its output is otherwise kept out of CI's).
for attempt in 1 2; do
  rm -rf "$rootfs"
  if debootstrap --variant=minbase --include=python3,python3-venv,libseccomp2,procps \
      bookworm "$rootfs" http://deb.debian.org/debian >"$AGR_CI_DOCKER/debootstrap.log" 2>&1; then
    break
  fi
  echo "containers: debootstrap failed (attempt $attempt):" >&2
  tail -n 20 "$AGR_CI_DOCKER/debootstrap.log" "$rootfs/debootstrap/debootstrap.log" >&2 2>/dev/null || true
  [ "$attempt" = 2 ] && exit 1
done
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
  -t dl-autograder:ci . >"$AGR_CI_DOCKER/build.log" 2>&1 || { tail -n 30 "$AGR_CI_DOCKER/build.log" >&2; exit 1; }
rm -rf .ci-wheels
export AGR_TEST_IMAGE=dl-autograder:ci AGR_REQUIRE_CONTAINERS=1
echo "containers: engine, base image and dl-autograder:ci built in $(( $(date +%s) - start )) s"
