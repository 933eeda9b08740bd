// blobsync::crdt on the automerge-paper trace (the crdt-benchmarks "B4"
// workload): replay every patch as delete+insert on getText('text') with an
// update event per op, encode the final document, load (parse) it, and the
// heap the live document uses. Prints one JSON object; bench/crdt.sh runs
// yjs on the same workload and prints the ratios.
//   crdt_bench [--trace PATH] [--rounds N]
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "crdt/doc.h"
#include "crdt/text.h"
#include "trace_util.h"

using namespace blobsync::crdt;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

int main(int argc, char** argv) {
  std::string path = "/work/shared/data/editing-traces/automerge-paper.json.gz";
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--trace")) path = argv[i + 1];
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  trace::Trace t;
  if (!trace::load(path, t)) {
    std::fprintf(stderr, "crdt_bench: cannot load %s\n", path.c_str());
    return 1;
  }
  double replay_ms = 1e18;
  size_t mem = 0;
  size_t update_bytes = 0;
  Bytes v1, v2;
  for (int r = 0; r < rounds; ++r) {
    malloc_trim(0);
    size_t before = mallinfo2().uordblks;
    auto doc = std::make_unique<Doc>(300000000);
    TextRef text = doc->get_text("text");
    size_t ub = 0;
    doc->on_update([&](const Bytes& u, const Transaction&) { ub += u.size(); });
    auto start = Clock::now();
    for (auto& tx : t.txns)
      for (auto& p : tx.patches) {
        if (p.del > 0) text.remove(p.pos, p.del);
        if (!p.ins.empty()) text.insert(p.pos, p.ins);
      }
    replay_ms = std::min(replay_ms, ms_since(start));
    size_t after = mallinfo2().uordblks;
    mem = after - before;
    update_bytes = ub;
    if (text.to_string() != t.end_content) {
      std::fprintf(stderr, "crdt_bench: replay produced the wrong text\n");
      return 1;
    }
    if (r == rounds - 1) {
      v1 = doc->encode_state_as_update();
      v2 = doc->encode_state_as_update({}, UpdateFormat::kV2);
    }
  }
  auto doc = std::make_unique<Doc>(300000000);
  // The bench's own encodings below: they load (the crdt tests check that);
  // only the time is measured.
  (void)doc->apply_update(v1);
  const int n = 20;
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) (void)doc->encode_state_as_update();
  double encode_ms = ms_since(start) / n;
  start = Clock::now();
  for (int i = 0; i < n; ++i) (void)doc->encode_state_as_update({}, UpdateFormat::kV2);
  double encode_v2_ms = ms_since(start) / n;
  double load_ms = 1e18, load_v2_ms = 1e18;
  for (int i = 0; i < n; ++i) {
    Doc d(1);
    auto s = Clock::now();
    (void)d.apply_update(v1);  // timed only, as above
    d.get_text("text");
    load_ms = std::min(load_ms, ms_since(s));
  }
  for (int i = 0; i < n; ++i) {
    Doc d(1);
    auto s = Clock::now();
    (void)d.apply_update(v2, nullptr, UpdateFormat::kV2);  // timed only, as above
    load_v2_ms = std::min(load_v2_ms, ms_since(s));
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "{\"impl\":\"blobsync\",\"ops\":%zu,\"replay_ms\":%.1f,\"update_bytes\":%zu,\"encode_v1_ms\":%.2f,\"encode_v2_ms\":%.2f,"
      "\"load_v1_ms\":%.2f,\"load_v2_ms\":%.2f,\"doc_heap_bytes\":%zu,\"peak_rss_kb\":%ld,\"v1_bytes\":%zu,\"v2_bytes\":%zu}\n",
      t.txns.size(), replay_ms, update_bytes, encode_ms, encode_v2_ms, load_ms, load_v2_ms, mem, ru.ru_maxrss, v1.size(),
      v2.size());
  return 0;
}
