// Named points where a crash test kills the process (tests/crash, docs/testing.md).
//
// BIHUAN_CRASH_POINT="<name>:<n>" makes the n-th pass (from 1) of crash_point("<name>") in
// this process raise SIGKILL; unset (always, outside the crash test) it costs one getenv.
// The points: log-written (a frame written, not yet flushed; a lone step's frame, written
// and flushed as one request, flushed too), log-synced (flushed, not yet
// seen by readers or acknowledged), checkpoint-applied (the log's writes put into the
// checkpoint's transaction, not committed), checkpoint-committed (committed, the log not
// yet reset).
#pragma once

namespace bihuan::storage {

void crash_point(const char* name);

}  // namespace bihuan::storage
