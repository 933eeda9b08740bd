#!/usr/bin/env bash
# The Debian package, checked piece by piece (systemd is not PID 1 here):
# lintian reports no error; the units pass `systemd-analyze verify` and
# `security --offline` (exposure printed, at most 4.9: "OK" or better);
# the conffile is a conffile and `blobsync config check` accepts it; the
# extracted binary serves /healthz and stops cleanly on SIGTERM.
# Usage: package_test.sh DEB
set -uo pipefail
deb=$1
fails=0
passes=0
ok() { echo "ok   $*"; passes=$((passes + 1)); }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d /tmp/blobsync-pkg-XXXXXX)
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
pid=

[ -f "$deb" ] || { echo "FAIL no package at $deb (scripts/package makes it)"; exit 1; }

# lintian: no errors (warnings and info are printed for the record).
lintian --tag-display-limit 0 "$deb" >"$tmp/lintian" 2>&1
sed 's/^/  lintian: /' "$tmp/lintian"
if grep -q '^E:' "$tmp/lintian"; then bad "lintian reports errors"; else ok "lintian: no errors"; fi

dpkg-deb -x "$deb" "$tmp/root"
dpkg-deb -e "$deb" "$tmp/control"
grep -qx /etc/blobsync/blobsync.toml "$tmp/control/conffiles" && ok "blobsync.toml is a conffile" ||
  bad "blobsync.toml is not in conffiles"
for f in usr/bin/blobsync usr/share/man/man1/blobsync.1.gz lib/systemd/system/blobsync.service \
         lib/systemd/system/blobsync.socket usr/lib/sysusers.d/blobsync.conf; do
  [ -e "$tmp/root/$f" ] && ok "installs /$f" || bad "does not install /$f"
done
bin=$tmp/root/usr/bin/blobsync
n_keys=$("$bin" serve --help | grep -c '^  --')
n_conf=$(grep -c '^#\?[a-z_]* =' "$tmp/root/etc/blobsync/blobsync.toml")
[ "$n_conf" -ge 60 ] && ok "conffile lists $n_conf keys (serve has $n_keys options)" || bad "conffile lists only $n_conf keys"
"$bin" config check --config "$tmp/root/etc/blobsync/blobsync.toml" >/dev/null && ok "config check accepts the conffile" ||
  bad "config check refuses the packaged conffile"

# Units: verify, as installed but for ExecStart's path (the extracted
# binary; verify checks it exists) and with the package's man page on MANPATH
# (verify checks Documentation=man: pages).
mkdir -p "$tmp/units"
sed "s|/usr/bin/blobsync|$bin|" "$tmp/root/lib/systemd/system/blobsync.service" >"$tmp/units/blobsync.service"
cp "$tmp/root/lib/systemd/system/blobsync.socket" "$tmp/units/"
if MANPATH=$tmp/root/usr/share/man systemd-analyze verify "$tmp/units/blobsync.socket" "$tmp/units/blobsync.service" \
     >"$tmp/verify" 2>&1; then
  ok "systemd-analyze verify"
else
  sed 's/^/  verify: /' "$tmp/verify"; bad "systemd-analyze verify"
fi
systemd-analyze security --offline=true --root="$tmp/root" "$tmp/root/lib/systemd/system/blobsync.service" \
  >"$tmp/security" 2>&1
score=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) \(.*\)/\1 \2/p' "$tmp/security")
echo "  security: exposure $score"
awk -v s="${score%% *}" 'BEGIN { exit !(s != "" && s <= 4.9) }' && ok "exposure ${score} (at most 4.9)" ||
  { sed 's/^/  security: /' "$tmp/security" | grep -v '✓' ; bad "exposure ${score:-unknown} above 4.9"; }

# The packaged binary runs: /healthz, then SIGTERM stops it cleanly.
BLOBSYNC_DATA=$tmp/data BLOBSYNC_LISTEN=127.0.0.1:0 "$bin" serve >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$tmp/out" && break; sleep 0.1; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/out")
body=$(curl -sf "http://127.0.0.1:${port:-1}/healthz")
[ "$body" = '{"status":"ok"}' ] && ok "the packaged binary serves /healthz" || bad "no /healthz from the packaged binary: '$body'"
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 0 ] && ok "stops cleanly on SIGTERM" || bad "exit $rc after SIGTERM"
pid=

echo "package: $passes passed, $fails failed"
[ $fails -eq 0 ]
