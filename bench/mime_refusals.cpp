// mime_refusals: how often the upload MIME rule refuses random bytes (what
// encrypted or compressed uploads look like).
//
//   mime_refusals [--count N] [--size BYTES] [--seed S] [--threads T] [--declared TYPE]
//
// Defaults: 200000 buffers of 16 KiB, a random seed (printed), one thread
// per core, declared application/octet-stream. Each buffer is sniffed as an
// upload is (store/mime_sniffer.h) and judged by the MIME policy with the
// default allow-list; next to it, the rule before strong signatures, which
// judged every specific libmagic answer (what main did until issue #15).
// Prints the refusals of both rules per libmagic guess; exits 1 if the
// current rule refused anything.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "http/config.h"
#include "store/mime_policy.h"
#include "store/mime_sniffer.h"

namespace {

using namespace blobsync;

struct Counts {
  long guessed = 0;      // buffers libmagic named this way
  long refused = 0;      // by the current rule
  long old_refused = 0;  // by the rule before strong signatures
};

const char* arg(int argc, char** argv, const char* name, const char* def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  const long count = std::atol(arg(argc, argv, "--count", "200000"));
  const std::size_t size = std::strtoull(arg(argc, argv, "--size", "16384"), nullptr, 10);
  const unsigned long seed = std::strtoul(arg(argc, argv, "--seed", "0"), nullptr, 10);
  const unsigned actual_seed = seed ? static_cast<unsigned>(seed) : std::random_device{}();
  unsigned threads = static_cast<unsigned>(std::atoi(arg(argc, argv, "--threads", "0")));
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const std::string declared = arg(argc, argv, "--declared", "application/octet-stream");
  if (count <= 0 || size == 0) {
    std::fprintf(stderr, "usage: mime_refusals [--count N] [--size BYTES] [--seed S] [--threads T] [--declared TYPE]\n");
    return 2;
  }
  const MimePolicy policy(default_allowed_mime());

  std::atomic<long> next{0};
  std::mutex mu;
  std::map<std::string, Counts> by_guess;
  auto work = [&](unsigned t) {
    std::mt19937_64 rng(actual_seed + t);
    std::vector<unsigned char> buf(size + 8);
    std::map<std::string, Counts> mine;
    while (next++ < count) {
      for (std::size_t i = 0; i < size; i += 8) {
        std::uint64_t v = rng();
        std::memcpy(buf.data() + i, &v, 8);
      }
      MimeSniff s = sniff_mime(std::as_bytes(std::span(buf.data(), size)));
      Counts& c = mine[s.guess.empty() ? "(libmagic failed)" : s.guess];
      ++c.guessed;
      c.refused += !policy.decide(declared, s.specific ? s.mime : "");
      c.old_refused += !policy.decide(declared, is_generic_mime(s.guess) ? "" : s.guess);
    }
    std::lock_guard g(mu);
    for (auto& [k, v] : mine) {
      by_guess[k].guessed += v.guessed;
      by_guess[k].refused += v.refused;
      by_guess[k].old_refused += v.old_refused;
    }
  };
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work, t);
  for (auto& t : pool) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  Counts total;
  std::printf("# %ld random buffers of %zu bytes declared %s, seed %u, %u threads, %.1f s\n", count, size,
              declared.c_str(), actual_seed, threads, secs);
  std::printf("%-40s %9s %9s %9s\n", "libmagic guess", "buffers", "refused", "old rule");
  std::vector<std::pair<std::string, Counts>> rows(by_guess.begin(), by_guess.end());
  std::ranges::sort(rows, [](auto& a, auto& b) { return a.second.guessed > b.second.guessed; });
  for (auto& [guess, c] : rows) {
    std::printf("%-40s %9ld %9ld %9ld\n", guess.c_str(), c.guessed, c.refused, c.old_refused);
    total.refused += c.refused;
    total.old_refused += c.old_refused;
  }
  std::printf("false refusals: %ld / %ld (old rule: %ld / %ld = %.2f%%)\n", total.refused, count, total.old_refused,
              count, 100.0 * static_cast<double>(total.old_refused) / static_cast<double>(count));
  return total.refused == 0 ? 0 : 1;
}
