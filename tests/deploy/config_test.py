#!/usr/bin/env python3
"""`blobsync config example` and `config check` against the real binary: the
example lists every key `serve` takes and is accepted as it is and with keys
set; a bad file or an unknown --set key is refused with exit 2 and a message.

Usage: config_test.py BLOBSYNC_BIN
"""
import os
import re
import subprocess
import sys
import tempfile

BIN = sys.argv[1]
failures = []
passes = 0


def check(cond, what):
    global passes
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    if cond:
        passes += 1
    else:
        failures.append(what)


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)


with tempfile.TemporaryDirectory(prefix='blobsync-config-') as tmp:
    ex = run('config', 'example')
    check(ex.returncode == 0, 'config example exits 0')
    keys = re.findall(r'^#([a-z_0-9]+) =', ex.stdout, re.M)
    flags = set(re.findall(r'^\s+--([a-z0-9-]+)', run('serve', '--help').stdout, re.M))
    missing = [k for k in keys if k.replace('_', '-') not in flags and k != 'data']
    check(len(keys) >= 60 and not missing, f'the example lists {len(keys)} keys, each a serve option (missing: {missing})')
    unlisted = sorted(f for f in flags if f.replace('-', '_') not in keys and f not in ('config', 'peer', 'help'))
    check(not unlisted, f'every serve option is in the example (not: {unlisted})')
    path = os.path.join(tmp, 'blobsync.toml')
    with open(path, 'w') as f:
        f.write(ex.stdout)
    check(run('config', 'check', '--config', path).returncode == 0, 'config check accepts the example as printed')
    # Each commented line shows the built-in default; uncommented, they all load.
    check('\n#listen = "127.0.0.1:3913"\n' in ex.stdout and '\n#max_upload_bytes = "100MiB"\n' in ex.stdout,
          'the example shows the defaults (listen, max_upload_bytes)')
    shown = re.sub(r'^#([a-z_0-9]+ = .+)$', r'\1', ex.stdout, flags=re.M)
    valued = len(re.findall(r'^[a-z_0-9]+ = .+$', shown, re.M))
    with open(path, 'w') as f:
        f.write(shown)
    r = run('config', 'check', '--config', path)
    check(valued >= len(keys) - 1 and r.returncode == 0,
          f'{valued} defaults uncommented at once are a valid config ({r.stderr.strip()})')
    ex2 = run('config', 'example', '--set', 'data="/var/lib/blobsync"', '--set', 'max_connections=10')
    with open(path, 'w') as f:
        f.write(ex2.stdout)
    check('\ndata = "/var/lib/blobsync"\n' in ex2.stdout and '\nmax_connections = 10\n' in ex2.stdout,
          '--set writes the keys uncommented')
    check(run('config', 'check', '--config', path).returncode == 0, 'config check accepts the example with keys set')
    bad = run('config', 'example', '--set', 'no_such_key=1')
    check(bad.returncode == 2 and 'no_such_key' in bad.stderr, '--set of an unknown key: exit 2 and says which')
    with open(path, 'w') as f:
        f.write('max_connections = "many"\n')
    r = run('config', 'check', '--config', path)
    check(r.returncode == 2 and 'max_connections' in r.stderr, f'a bad value: exit 2 naming the key ({r.stderr.strip()})')
    with open(path, 'w') as f:
        f.write('no_such_key = 1\n')
    r = run('config', 'check', '--config', path)
    check(r.returncode == 2 and 'no_such_key' in r.stderr, 'an unknown key in the file: exit 2 naming it')

print(f'config: {passes} passed, {len(failures)} failed')
assert not failures, f'{len(failures)} checks failed: {failures}'
