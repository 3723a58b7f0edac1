// The change feed (Engine::changes): every committed step, in commit order, as read from
// the history log, with a cursor to resume from. For exporting to a warehouse
// (`bihuan export`, GET /v1/changes; docs/retention.md, "Change feed").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bihuan/instance.hpp"

namespace bihuan {

// One committed step.
struct Change {
  std::string cursor;       // this step's place in the feed: resume after it
  std::string instance_id;  // the instance the step belongs to
  // The instance's definition id and version as its record names them now ("" and 0 when
  // the record is gone or damaged: the step stays in the feed).
  std::string definition;
  std::int64_t definition_version = 0;
  HistoryEntry entry;  // the history entry: seq, time, kind, event, actor, changes, hash...
  json to_json(const TimeZone& tz) const;  // the entry's members and cursor, instance, definition
};

// A page of the feed. Contract: the steps of a page and of every page read from its
// next_cursor are exactly the steps committed after the cursor, in commit order, each
// once: no gap, no repeat (a step is never committed before one already in the feed).
// Steps of instances removed by retention leave the feed with them (they are in the
// archive).
struct ChangePage {
  std::vector<Change> items;
  std::string next_cursor;   // where the next page starts: always set (the cursor given when
                             // nothing new was committed), so a follower polls with it
  std::string error;         // non-empty: no page (a refused cursor, or the store failed)
  bool unavailable = false;  // the store could not be read (retry later)
};

class Engine;
// Up to `limit` (1..100,000) committed steps after `cursor` ("" = from the first), in
// commit order. A cursor the feed did not give (not 16 hex digits): `error`.
ChangePage changes(const Engine& engine, const std::string& cursor, std::size_t limit);

}  // namespace bihuan
