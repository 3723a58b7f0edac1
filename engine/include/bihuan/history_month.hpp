// One month of a store's history kept by month (PostgreSQL; docs/retention.md, "History by
// month"): bihuan::history_months (bihuan/retention.hpp) and the storage layer share it.
#pragma once

#include <cstdint>
#include <string>

namespace bihuan {

struct HistoryMonth {
  int month = 0;      // YYYYMM; 0: the legacy partition (the store's first months)
  std::string table;  // "history_202701"
  std::uint64_t first_key = 0, end_key = 0;  // its log keys: [first_key, end_key)
  std::int64_t bytes = 0;                    // on disk, indexes included
  std::int64_t rows = -1;                    // entries (-1: not counted)
  std::int64_t live = -1;                    // entries of instances still stored (-1: not counted)
  bool written = false;                      // steps have been written there or after it
  bool current = false;                      // it holds the newest key: steps are written there now
};

}  // namespace bihuan
