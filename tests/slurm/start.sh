#!/usr/bin/env bash
# Start a throw-away single-node SLURM cluster on this machine (root, Debian/Ubuntu, no systemd needed), with two
# fake GPUs (gres "gpu:fake:2", files that are symlinks to /dev/null), for tests and benchmarks:
#   tests/slurm/start.sh [STATE_DIR]      # default $SSL_SLURM_DIR or ssl-slurm in the temp dir
#   source STATE_DIR/env.sh               # exports SLURM_CONF so sinfo, sbatch, squeue, snakemake find the cluster
#   tests/slurm/stop.sh [STATE_DIR]
# Installs slurmctld, slurmd, slurm-client and munge with apt-get when missing. Everything it writes (config, munge
# key and socket, spool, state, logs, pid files) lives under STATE_DIR; /etc is left alone. Ports are picked free.
# Exit status: 0 the node is idle; 77 SLURM cannot be set up here (not root, no apt-get, install failed): callers
# skip; 75 another start.sh cluster is running on this machine (one at a time: try again later); anything else: a
# real failure (see the logs under STATE_DIR).
set -euo pipefail

STATE="${1:-${SSL_SLURM_DIR:-$(dirname "$(mktemp -u)")/ssl-slurm}}"  # mktemp -u: the temp dir ($TMPDIR)
NODE=localhost
PARTITION="${SSL_SLURM_PARTITION:-main}"

cannot() { echo "start.sh: cannot set up SLURM here: $*" >&2; exit 77; }

[ "$(id -u)" = 0 ] || cannot "not root (the daemons and apt-get need root)"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || cannot "SLURM is not installed and there is no apt-get"
  echo "start.sh: installing slurmctld slurmd slurm-client munge with apt-get" >&2
  APT_LOG="$(mktemp --suffix=.ssl-slurm-apt.log)"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge; } >"$APT_LOG" 2>&1; then
    tail -5 "$APT_LOG" >&2
    cannot "apt-get install slurmctld slurmd slurm-client munge failed (log: $APT_LOG)"
  fi
  rm -f "$APT_LOG"
fi
id munge >/dev/null 2>&1 || cannot "the munge package did not create the user munge"

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$(cat "$1")/status" 2>/dev/null; }
for d in munged slurmctld slurmd; do
  if alive "$STATE/$d.pid"; then
    echo "start.sh: $d from $STATE is already running (pid $(cat "$STATE/$d.pid")); run tests/slurm/stop.sh first" >&2
    exit 1
  fi
done

ETC_CONF=/etc/slurm/slurm.conf
if [ -e "$ETC_CONF" ] || [ -L "$ETC_CONF" ]; then
  other="$(dirname "$(readlink "$ETC_CONF")")"
  if [ -L "$ETC_CONF" ] && alive "$other/slurmctld.pid"; then
    echo "start.sh: the cluster in $other is running; one at a time (tests/slurm/stop.sh $other)" >&2
    exit 75
  elif [ -L "$ETC_CONF" ] && { [ ! -e "$ETC_CONF" ] || head -1 "$ETC_CONF" | grep -q '^# Written by tests/slurm/start.sh'; }; then
    rm -f "$ETC_CONF"   # left by an earlier start.sh whose stop.sh did not run
  else
    echo "start.sh: $ETC_CONF exists and was not written by start.sh: a real SLURM install? Not touching it." >&2
    exit 1
  fi
fi
rm -rf "$STATE"
mkdir -p "$STATE"/{munge,spool,state,gpu}
# From here on, a failure stops whatever was started (and keeps STATE_DIR's logs).
trap 'rc=$?; if [ "$rc" != 0 ]; then SSL_SLURM_KEEP=1 bash "$(dirname "$0")/stop.sh" "$STATE" >&2; fi; exit "$rc"' EXIT
chmod 755 "$STATE"
chown munge: "$STATE/munge"
chmod 755 "$STATE/munge"   # clients must reach the socket; munged refuses only a group/world-writable dir

# munge: a fresh key, its own socket; run as the user munge.
dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
chown munge: "$STATE/munge/munge.key"
chmod 400 "$STATE/munge/munge.key"
SOCKET="$STATE/munge/munge.socket"
runuser -u munge -- munged --key-file="$STATE/munge/munge.key" --socket="$SOCKET" \
  --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/munge/munged.log" --seed-file="$STATE/munge/munged.seed"
for _ in $(seq 50); do [ -s "$STATE/munge/munged.pid" ] && [ -S "$SOCKET" ] && break; sleep 0.1; done
cp "$STATE/munge/munged.pid" "$STATE/munged.pid"

# This machine's real CPUs and memory, as slurmd itself sees them.
read -r CPUS MEM < <(slurmd -C | awk '{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}}
                                       /^NodeName/ {print v["CPUs"], v["RealMemory"]}')
[ -n "${CPUS:-}" ] && [ -n "${MEM:-}" ] || { echo "start.sh: slurmd -C printed no CPUs/RealMemory" >&2; exit 1; }

# Two free TCP ports (another cluster on this machine may hold the defaults 6817/6818).
read -r CTLD_PORT SLURMD_PORT < <(python3 - <<'PY' 2>/dev/null || echo "6817 6818"
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)

# Fake GPUs: gres File= must be character devices, so symlinks to /dev/null.
ln -sf /dev/null "$STATE/gpu/fakegpu0"
ln -sf /dev/null "$STATE/gpu/fakegpu1"

cat >"$STATE/slurm.conf" <<CONF
# Written by tests/slurm/start.sh: one node ($NODE), one partition ($PARTITION), two fake GPUs, no accounting.
ClusterName=ssl-test
SlurmctldHost=$NODE
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue/scontrol for 10 minutes: snakemake-executor-plugin-slurm polls with squeue
# (no accounting database) and needs MinJobAge >= 3x its first status-check delay.
MinJobAge=600
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM Gres=gpu:fake:2 State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
cat >"$STATE/gres.conf" <<CONF
AutoDetect=off
Name=gpu Type=fake File=$STATE/gpu/fakegpu[0-1]
CONF
cat >"$STATE/env.sh" <<CONF
export SLURM_CONF=$STATE/slurm.conf
CONF
export SLURM_CONF="$STATE/slurm.conf"

mkdir -p /etc/slurm
ln -s "$SLURM_CONF" "$ETC_CONF"

slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N "$NODE"

for _ in $(seq 300); do
  state="$(sinfo -h -N -n "$NODE" -o %T 2>/dev/null || true)"
  [ "$state" = idle ] && break
  sleep 0.1
done
if [ "$state" != idle ]; then
  echo "start.sh: node $NODE is '${state:-unreachable}' after 30 s; logs:" >&2
  tail -n 20 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2 2>/dev/null || true
  exit 1
fi
echo "start.sh: SLURM is up (node $NODE: $CPUS CPUs, $MEM MB, gpu:fake:2; partition $PARTITION). Use: source $STATE/env.sh"
