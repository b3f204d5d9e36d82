#!/usr/bin/env bash
# Runs a command with a Docker daemon that answers: `scripts/with-docker.sh make sam-local`.
#
# When a daemon answers already, the command just runs. When none does and this runs as root, it
# installs Debian's docker.io if dockerd is missing, starts dockerd for the command's duration and
# stops it afterwards, also when the command fails or is interrupted (Ctrl-C, SIGTERM). Otherwise it
# says what to do and exits non-zero. .ci/run uses it; on a workstation, start Docker yourself.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

docker_answers() { command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; }

if docker_answers; then
  exec "$@"
fi
if [ "$(id -u)" != 0 ]; then
  echo "with-docker: no Docker daemon answers, and only root may install or start one here." >&2
  echo "  Install Docker Engine (Debian/Ubuntu: sudo apt-get install docker.io), start it, and let your user" >&2
  echo "  use it (sudo usermod -aG docker \$USER); or run this as root." >&2
  exit 1
fi

if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  echo "with-docker: installing docker.io with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q docker.io >/dev/null; then
    apt-get update -q >/dev/null
    apt-get install -y -q docker.io >/dev/null
  fi
fi

state=$(mktemp -d -t with-docker.XXXXXX)
dockerd_pid=

stop_dockerd() {
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    echo "with-docker: stopping the dockerd it started (pid $dockerd_pid)" >&2
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      kill -0 "$dockerd_pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
  fi
  rm -rf "$state"
}
trap stop_dockerd EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# In a session of its own, so that the terminal's Ctrl-C reaches the command (which then removes
# its containers) and not dockerd: the trap above stops dockerd once the command is done.
setsid dockerd >"$state/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 1 120); do
  docker_answers && break
  if ! kill -0 "$dockerd_pid" 2>/dev/null; then
    echo "with-docker: dockerd exited:" >&2
    tail -n 20 "$state/dockerd.log" >&2
    exit 1
  fi
  sleep 0.5
done
if ! docker_answers; then
  echo "with-docker: dockerd did not answer within 60 s:" >&2
  tail -n 20 "$state/dockerd.log" >&2
  exit 1
fi
echo "with-docker: started dockerd (pid $dockerd_pid, $(docker version --format '{{.Server.Version}}'))" >&2

"$@"
