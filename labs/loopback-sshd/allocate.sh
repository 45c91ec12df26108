#!/usr/bin/env bash
# An example `command` lab: starts one real sshd per host on 127.0.0.1 (random free ports) and
# prints the lab as JSON on stdout. What a cloud's allocate script does with servers, this does
# with processes. The contract (see the README, "Plug in your own lab"):
#   in:  HARNESS_RESOURCES (file to write: what release.sh needs), HARNESS_LAB_DIR (a folder of ours)
#   out: stdout = {"hosts": [{"name", "address", "port", "user", "vars"}...], "ssh_key", "known_hosts"}
#        (the hosts share this machine: harness_authorized_keys_file names the file each sshd reads,
#        so lab.authorized_keys go there, not into this machine's /root/.ssh/authorized_keys)
#        logs on stderr only.
# Settings (environment): LAB_HOSTS="name ..." (default "node-0 node-1").
set -euo pipefail
: "${HARNESS_RESOURCES:?}" "${HARNESS_LAB_DIR:?}"
hosts=(${LAB_HOSTS:-node-0 node-1})
mkdir -p "$HARNESS_LAB_DIR" /run/sshd
key="$HARNESS_LAB_DIR/id_ed25519"
[ -f "$key" ] || ssh-keygen -q -t ed25519 -N '' -C loopback-lab -f "$key" >&2
: > "$HARNESS_RESOURCES"
: > "$HARNESS_LAB_DIR/known_hosts"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json="" sep=""
for name in "${hosts[@]}"; do
  d="$HARNESS_LAB_DIR/$name"
  mkdir -p "$d/root"
  [ -f "$d/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$d/host_key" >&2
  cp "$key.pub" "$d/authorized_keys"
  for try in 1 2 3 4 5; do
    port=$(free_port)
    cat > "$d/sshd_config" <<CFG
ListenAddress 127.0.0.1:$port
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 64:30:128
Subsystem sftp internal-sftp
CFG
    /usr/sbin/sshd -D -e -f "$d/sshd_config" </dev/null >/dev/null 2>>"$d/sshd.log" &
    pid=$!
    # What release.sh needs: the pid and the config its command line names (a reused pid is left alone).
    echo "$pid $d/sshd_config" >> "$HARNESS_RESOURCES"
    for _ in $(seq 50); do
      if scan=$(ssh-keyscan -T 1 -p "$port" 127.0.0.1 2>/dev/null) && [ -n "$scan" ]; then break; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if [ -n "${scan:-}" ]; then break; fi
    echo "sshd of $name did not start on port $port (try $try); log: $(tail -2 "$d/sshd.log")" >&2
    kill "$pid" 2>/dev/null || true
  done
  [ -n "${scan:-}" ] || { echo "could not start sshd for $name" >&2; exit 1; }
  echo "$scan" >> "$HARNESS_LAB_DIR/known_hosts"
  echo "$name: sshd pid $pid on 127.0.0.1:$port" >&2
  json+="$sep{\"name\": \"$name\", \"address\": \"127.0.0.1\", \"port\": $port, \"user\": \"root\", \"vars\": {\"harness_host_root\": \"$d/root\", \"harness_authorized_keys_file\": \"$d/authorized_keys\", \"ansible_python_interpreter\": \"/usr/bin/python3\"}}"
  sep=", "
  scan=""
done
printf '{"hosts": [%s], "ssh_key": "%s", "known_hosts": "%s"}\n' "$json" "$key" "$HARNESS_LAB_DIR/known_hosts"
