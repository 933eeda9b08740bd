// client_peer: a C++ participant for the interop tests. Connects to a room
// through the blobsync C++ client, makes `--edits` edits (map keys
// "cpp<id>-<i>" in map "m", and "[c<id>.<i>]" inserted at the start of text
// "t", one transaction each), waits until map "m" holds `--expect-keys` keys
// (everyone's edits arrived), then prints the document's JSON on stdout.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "client/client.h"
#include "crdt/doc.h"
#include "crdt/map.h"
#include "crdt/text.h"

using namespace blobsync;

int main(int argc, char** argv) {
  CLI::App app("client_peer");
  client::ClientOptions options;
  int id = 0, edits = 10;
  std::size_t expect_keys = 0;
  double wait_s = 60;
  app.add_option("--server", options.server)->required();
  app.add_option("--room", options.room)->required();
  app.add_option("--data", options.data_dir)->required();
  app.add_option("--id", id);
  app.add_option("--edits", edits);
  app.add_option("--expect-keys", expect_keys);
  app.add_option("--wait", wait_s);
  CLI11_PARSE(app, argc, argv);

  auto c = client::Client::connect(options);
  if (!c) {
    std::fprintf(stderr, "client_peer: %s\n", c.error().message.c_str());
    return 1;
  }
  for (int i = 0; i < edits; ++i) {
    (*c)->with_doc([&](crdt::Doc& doc) {
      auto m = doc.get_map("m");
      auto t = doc.get_text("t");
      doc.transact([&](crdt::Transaction&) {
        m.set("cpp" + std::to_string(id) + "-" + std::to_string(i), crdt::Prelim(crdt::Any(i)));
        t.insert_utf8(0, "[c" + std::to_string(id) + "." + std::to_string(i) + "]");
      });
    });
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  for (;;) {
    std::size_t keys = 0;
    (*c)->with_doc([&](crdt::Doc& doc) { keys = doc.get_map("m").size(); });
    if (keys >= expect_keys) break;
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "client_peer %d: only %zu of %zu keys arrived\n", id, keys, expect_keys);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Its own edits must reach the server before the process ends (the
  // Client's destructor drops what is still queued).
  if (auto r = (*c)->flush(); !r) {
    std::fprintf(stderr, "client_peer %d: %s\n", id, r.error().message.c_str());
    return 1;
  }
  std::string json;
  (*c)->with_doc([&](crdt::Doc& doc) {
    doc.get_map("m");
    doc.get_text("t");
    json = doc.to_json();
  });
  std::printf("%s\n", json.c_str());
  return 0;
}
