#include "http/systemd.h"

#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <string>

namespace blobsync::http::systemd {

Result<int> take_listen_fd() {
  // unset_environment = 1: children (none today) must not take the socket too.
  int n = sd_listen_fds(1);
  if (n < 0) return fail(Errc::kIOError, "socket activation: {}", std::system_category().message(-n));
  if (n == 0) return -1;
  if (n > 1)
    return fail(Errc::kInvalidArgument, "socket activation passed {} sockets; blobsync listens on exactly one", n);
  int fd = SD_LISTEN_FDS_START;
  // A listening stream socket of an IP family (AF_UNSPEC checks for either).
  if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) <= 0)
    return fail(Errc::kInvalidArgument, "socket activation passed a descriptor that is not a listening TCP socket");
  return fd;
}

void notify_ready(std::string_view status) {
  std::string msg = "READY=1\nSTATUS=";
  msg += status;
  (void)sd_notify(0, msg.c_str());
}

void notify_stopping() { (void)sd_notify(0, "STOPPING=1\nSTATUS=stopping: draining connections"); }

}  // namespace blobsync::http::systemd
