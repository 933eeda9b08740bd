#!/usr/bin/env python3
"""The server as systemd runs it, piece by piece (systemd is not PID 1 here).

- notify: with NOTIFY_SOCKET set, `blobsync serve` sends READY=1 once it
  serves and STOPPING=1 when SIGTERM starts its shutdown, then exits 0.
- activate: under Debian's `systemd-socket-activate` (the socket made by
  the tool, LISTEN_FDS set) the server answers on that socket.
- restart: a harness that, like systemd with blobsync.socket, keeps the
  listening socket while the server is stopped (SIGTERM) and killed
  (SIGKILL) and started again: every connection made while no server ran
  waits in the backlog and is answered by the next instance.

Usage: service_test.py BLOBSYNC_BIN   (exit 0: all passed)
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('BLOBSYNC_BIN', 'blobsync')
failures = []
passes = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    (passes if cond else failures).append(what)


def serve_env(data):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith('BLOBSYNC_') or k in ('LISTEN_FDS', 'LISTEN_PID', 'NOTIFY_SOCKET'):
            del env[k]
    env['BLOBSYNC_DATA'] = data
    env['BLOBSYNC_LOG_LEVEL'] = 'warn'
    return env


def healthz(port, timeout=20.0):
    """GET /healthz on a new connection; the status line, or '' on failure."""
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
            s.sendall(b'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
            data = b''
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.split(b'\r\n', 1)[0].decode()
    except OSError as e:
        return f'error: {e}'


def wait_until(fn, seconds=30.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if fn():
            return True
        time.sleep(0.05)
    return False


def test_notify(tmp):
    path = os.path.join(tmp, 'notify.sock')
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    ns.settimeout(30)
    env = serve_env(os.path.join(tmp, 'notify-data'))
    env['NOTIFY_SOCKET'] = path
    env['BLOBSYNC_LISTEN'] = '127.0.0.1:0'
    p = subprocess.Popen([BIN, 'serve'], env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        port = int(line.rsplit(':', 1)[1]) if line.startswith('listening on') else 0
        msgs = []
        try:
            msgs.append(ns.recv(4096).decode())
        except socket.timeout:
            pass
        check(bool(msgs) and msgs[0].startswith('READY=1\nSTATUS=serving '), f'READY=1 sent once serving: {msgs}')
        check(healthz(port).endswith('200 OK'), 'the server answers after READY=1')
        p.send_signal(signal.SIGTERM)
        try:
            msgs.append(ns.recv(4096).decode())
        except socket.timeout:
            pass
        check(len(msgs) == 2 and msgs[1].startswith('STOPPING=1'), f'STOPPING=1 sent on SIGTERM: {msgs[1:]}')
        check(p.wait(timeout=60) == 0, 'exits 0 after SIGTERM')
    finally:
        if p.poll() is None:
            p.kill()
        ns.close()


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_systemd_socket_activate(tmp):
    port = free_port()
    env = serve_env(os.path.join(tmp, 'activate-data'))
    env['BLOBSYNC_LISTEN'] = '127.0.0.1:1'  # ignored: the socket comes from systemd
    p = subprocess.Popen(['systemd-socket-activate', '-l', f'127.0.0.1:{port}', BIN, 'serve'], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # The tool says when it listens; it starts the server at the first
        # connection, which waits in the backlog until the server answers.
        line = p.stderr.readline()
        check(line.startswith('Listening on'), f'systemd-socket-activate listens: {line.strip()}')
        status = healthz(port)
        check(status.endswith('200 OK'), f'serves on the socket systemd-socket-activate made: {status}')
        p.send_signal(signal.SIGTERM)
        check(p.wait(timeout=60) == 0, 'exits 0 after SIGTERM under systemd-socket-activate')
    finally:
        if p.poll() is None:
            p.kill()


def start_on(sock, data, log):
    """The server with `sock` as its fd 3, LISTEN_PID its own pid (as systemd does).

    The shell moves the socket to fd 3: subprocess closes every fd not in
    pass_fds after preexec_fn runs, so a dup2 there would be undone whenever
    the socket is not fd 3 already (under ctest it is not).
    """
    env = serve_env(data)
    env['LISTEN_FDS'] = '1'
    env['SOCKET_FD'] = str(sock.fileno())
    return subprocess.Popen(['sh', '-c', '[ "$SOCKET_FD" = 3 ] || eval "exec 3<&$SOCKET_FD $SOCKET_FD<&-"; LISTEN_PID=$$ exec "$@"', 'sh',
                             BIN, 'serve'], env=env, pass_fds=(sock.fileno(),),
                            stdout=subprocess.DEVNULL, stderr=log)


def server_log(log):
    log.flush()
    with open(log.name) as f:
        return f.read().strip()[-2000:]


class Waiting:
    """A request sent on a connection made while no server runs."""

    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.s.sendall(b'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')

    def status(self, deadline):
        data = b''
        try:
            while True:
                self.s.settimeout(max(0.1, deadline - time.monotonic()))
                chunk = self.s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError as e:
            return f'error: {e}'
        finally:
            self.s.close()
        return data.split(b'\r\n', 1)[0].decode()


def test_restart_keeps_the_socket(tmp):
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(512)
    port = sock.getsockname()[1]
    data = os.path.join(tmp, 'restart-data')
    log = open(os.path.join(tmp, 'restart.log'), 'w+')
    p = start_on(sock, data, log)
    try:
        first = healthz(port)
        check(first.endswith('200 OK'), f'first instance serves on the passed socket: {first} {server_log(log)}')
        for how in ('SIGTERM', 'SIGKILL'):
            p.send_signal(getattr(signal, how))
            p.wait(timeout=60)
            waiting = [Waiting(port) for _ in range(50)]  # no server runs now
            p = start_on(sock, data, log)
            deadline = time.monotonic() + 60  # for all of them together
            answers = [w.status(deadline) for w in waiting]
            ok = sum(a.endswith('200 OK') for a in answers)
            check(ok == len(waiting), f'after {how}: {ok}/{len(waiting)} connections made while down were answered'
                  + ('' if ok == len(waiting) else f' (server exit {p.poll()}: {server_log(log)})'))
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
        sock.close()
        log.close()


def test_bad_activation_refused(tmp):
    # A datagram socket is not what blobsync.socket passes: refuse to start.
    bad = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bad.bind(('127.0.0.1', 0))
    log = open(os.path.join(tmp, 'bad.log'), 'w+')
    p = start_on(bad, os.path.join(tmp, 'bad-data'), log)
    try:
        rc = p.wait(timeout=30)
        said = server_log(log)
        check(rc != 0 and 'not a listening TCP socket' in said,
              f'a passed socket that is not a listening TCP socket stops the server (exit {rc}: {said[-200:]})')
    finally:
        if p.poll() is None:
            p.kill()
        bad.close()


def main():
    with tempfile.TemporaryDirectory(prefix='blobsync-service-') as tmp:
        test_notify(tmp)
        test_systemd_socket_activate(tmp)
        test_restart_keeps_the_socket(tmp)
        test_bad_activation_refused(tmp)
    print(f'service: {len(passes)} passed, {len(failures)} failed')
    assert not failures, f'{len(failures)} checks failed: {failures}'
    return 0


if __name__ == '__main__':
    sys.exit(main())
