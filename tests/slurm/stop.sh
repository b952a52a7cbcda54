#!/usr/bin/env bash
# Stop the cluster tests/slurm/start.sh started: exactly the daemons whose pid files it left under STATE_DIR
# (slurmd, slurmctld, munged, in that order), by pid; then the /etc/slurm/slurm.conf symlink to STATE_DIR and
# STATE_DIR itself (kept when SSL_SLURM_KEEP=1).
#   tests/slurm/stop.sh [STATE_DIR]      # default $SSL_SLURM_DIR or ssl-slurm in the temp dir
set -uo pipefail

STATE="${1:-${SSL_SLURM_DIR:-$(dirname "$(mktemp -u)")/ssl-slurm}}"  # mktemp -u: the temp dir ($TMPDIR)
[ -d "$STATE" ] || { echo "stop.sh: no $STATE, nothing to stop"; exit 0; }

running() {  # a live, non-zombie process
  kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

status=0
# First cancel the jobs still queued or running on this cluster: their processes (slurmstepd and the job's own)
# would outlive slurmd.
if [ -s "$STATE/slurmctld.pid" ] && running "$(cat "$STATE/slurmctld.pid")" && command -v squeue >/dev/null; then
  export SLURM_CONF="$STATE/slurm.conf"
  jobs="$(timeout 10 squeue -h -t PENDING,RUNNING,SUSPENDED,COMPLETING,CONFIGURING -o %i 2>/dev/null | tr '\n' ' ')"
  if [ -n "${jobs// /}" ]; then
    echo "stop.sh: cancelling jobs $jobs" >&2
    # shellcheck disable=SC2086
    timeout 10 scancel $jobs || true
    for _ in $(seq 150); do
      [ -z "$(timeout 10 squeue -h -t RUNNING,COMPLETING,CONFIGURING -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
fi
for d in slurmd slurmctld munged; do
  f="$STATE/$d.pid"
  [ -s "$f" ] || continue
  pid="$(cat "$f")"
  if running "$pid"; then
    # Only signal the pid if it is still the daemon we started (pids get reused).
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$d" ]; then
      echo "stop.sh: pid $pid is not $d any more; left alone" >&2
      continue
    fi
    kill -TERM "$pid"
    for _ in $(seq 100); do running "$pid" || break; sleep 0.1; done
    if running "$pid"; then
      echo "stop.sh: $d (pid $pid) ignored SIGTERM for 10 s; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null
      sleep 0.5
      running "$pid" && { echo "stop.sh: $d (pid $pid) still running" >&2; status=1; }
    fi
  fi
  rm -f "$f"
done
if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$STATE/slurm.conf" ]; then
  rm -f /etc/slurm/slurm.conf
fi
if [ "$status" = 0 ] && [ "${SSL_SLURM_KEEP:-0}" != 1 ]; then
  rm -rf "$STATE"
fi
echo "stop.sh: stopped the cluster in $STATE"
exit "$status"
