// systemd integration: readiness and stop notifications (sd_notify(3)) and
// socket activation (sd_listen_fds(3)), through libsystemd. Each is a no-op
// when systemd did not start the process (no NOTIFY_SOCKET, no LISTEN_FDS),
// so a plain `blobsync serve` behaves as it always did.
//
// With socket activation (packaging/blobsync.socket), systemd owns the
// listening socket and hands it to each instance of the service: while the
// server restarts, connection attempts wait in the socket's backlog and the
// next instance answers them. The server closes only its own copy at stop.
//
// Thread safety: take_listen_fd() is called once, before the server listens
// (it reads and unsets the environment); notify_* may be called from any
// thread.
#pragma once

#include <string_view>

#include "core/error.h"

namespace blobsync::http::systemd {

// The listening TCP socket passed by socket activation, or -1 when none was
// passed (LISTEN_FDS unset, or set for another process). An error when
// systemd passed more than one descriptor or one that is not a listening
// TCP stream socket (a misconfigured .socket unit): the server refuses to
// start rather than listen somewhere else.
Result<int> take_listen_fd();

// READY=1 with a STATUS line: the server is listening and serving.
void notify_ready(std::string_view status);
// STOPPING=1: shutdown has begun (connections are draining).
void notify_stopping();

}  // namespace blobsync::http::systemd
