// mesh_seed: uploads files to a room on a blobsync server through the C++
// client (the server stores, verifies and announces each one), for the
// replication benchmark (bench/mesh.sh). Not timed.
//
//   mesh_seed --server ws://127.0.0.1:PORT/sync --room R --data CLIENT_DIR FILE...
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "client/client.h"

int main(int argc, char** argv) {
  CLI::App app("mesh_seed: upload files into a room (benchmark setup)");
  std::string server, room = "bench", data = "mesh-seed-client";
  std::vector<std::string> files;
  app.add_option("--server", server, "ws://host:port/sync")->required();
  app.add_option("--room", room, "room");
  app.add_option("--data", data, "the client's own store");
  app.add_option("files", files, "files to upload")->required();
  CLI11_PARSE(app, argc, argv);

  blobsync::client::ClientOptions o;
  o.server = server;
  o.room = room;
  o.data_dir = data;
  o.timeout = std::chrono::minutes(5);
  auto c = blobsync::client::Client::connect(o);
  if (!c) {
    std::cerr << c.error().to_string() << "\n";
    return 1;
  }
  for (const auto& f : files) {
    auto r = (*c)->put_blob(f);
    if (!r) {
      std::cerr << f << ": " << r.error().to_string() << "\n";
      return 1;
    }
  }
  std::printf("uploaded %zu files\n", files.size());
  return 0;
}
