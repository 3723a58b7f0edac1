// The write-ahead log's view (storage/pmap.hpp) as the committer builds it: each frame's
// writes joined to the map of one database with set_all, the new version replacing the
// old (as Env publishes it), and above() as a checkpoint prunes it: every 6,000 frames of
// one write (about a second of one-at-a-time steps here), every 300 of 128 (about half a
// second with 256 in flight).
//
//   ./build/bench/bench_pmap --benchmark_repetitions=5 --benchmark_report_aggregates_only
//
// Args: {writes per frame, distinct keys (updates spread over them) or 0 (appends of
// ascending keys, as history)}. Figures and their use: docs/PERFORMANCE.md, "The log's view
// in an arena".
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "storage/pmap.hpp"

namespace {

using bihuan::storage::PEntry;
using bihuan::storage::PMap;

std::string be64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

void BM_SetAllFrames(benchmark::State& state) {
  const auto per_frame = static_cast<std::size_t>(state.range(0));
  const auto distinct = static_cast<std::uint64_t>(state.range(1));
  const std::string value(distinct ? 1200 : 300, 'v');  // a record, or a history entry
  std::mt19937_64 rng(1);
  PMap map;
  std::uint64_t lsn = 0, next_key = 0;
  const std::uint64_t checkpoint_every = per_frame == 1 ? 6000 : 300;
  std::vector<std::string> keys(per_frame);
  for (auto _ : state) {
    ++lsn;
    std::vector<std::pair<std::string_view, PEntry>> writes;
    writes.reserve(per_frame);
    for (std::size_t i = 0; i < per_frame; ++i) {
      keys[i] = be64(distinct ? rng() % distinct : next_key++);
      writes.emplace_back(keys[i], PEntry{lsn, value});
    }
    map = map.set_all(std::move(writes));
    if (lsn % checkpoint_every == 0) map = map.above(lsn - 2);  // the last two frames stay
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(per_frame));
  state.counters["arena_MiB"] = static_cast<double>(map.memory()) / (1 << 20);
}

BENCHMARK(BM_SetAllFrames)
    ->Args({1, 10000})
    ->Args({1, 0})
    ->Args({128, 10000})
    ->Args({128, 0})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
