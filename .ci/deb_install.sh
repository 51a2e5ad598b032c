#!/usr/bin/env bash
# The Debian package as an operator gets it: built by cargo-deb around the
# binary CI already built (no second compile), installed with dpkg, then
# started the way its systemd unit starts it (this sandbox has no systemd:
# the unit's ExecStart line, as its user, in its working directory) until
# /readyz answers. Removed again afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

# cargo-deb warns that the dev profile is meant for development: this
# checks the packaging, not the optimised build an operator makes.
cargo deb -p rapport --no-build --profile dev --deb-revision 1 -o target/debian/rapport.deb
dpkg -i target/debian/rapport.deb
trap 'dpkg --purge rapport >/dev/null 2>&1 || true' EXIT

unit="$(dpkg -L rapport | grep '/rapport.service$')"
exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
user="$(sed -n 's/^User=//p' "$unit")"
workdir="$(sed -n 's/^WorkingDirectory=//p' "$unit")"
test -n "$exec_start" && test "$user" = rapport && test -d "$workdir"
test "$(stat -c %U "$workdir")" = rapport
grep -q '^data_dir = "/var/lib/rapport"' /etc/rapport/rapport.toml

log="$(mktemp)"
# A port of its own, so nothing else on the machine answers /readyz for it.
(cd "$workdir" && exec runuser -u "$user" -- env RAPPORT_LISTEN=127.0.0.1:18080 $exec_start) > "$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; dpkg --purge rapport >/dev/null 2>&1 || true; rm -rf /var/lib/rapport' EXIT
for _ in $(seq 1 60); do
  if curl -fsS http://127.0.0.1:18080/readyz >/dev/null 2>&1; then
    echo "the installed rapport answers /readyz as user $user, its data in $workdir:"
    ls -l "$workdir"
    exit 0
  fi
  kill -0 "$server" 2>/dev/null || { cat "$log"; echo "the installed rapport stopped"; exit 1; }
  sleep 1
done
cat "$log"
echo "the installed rapport never answered /readyz"
exit 1
