// Checking a store: the structural walk in a child process, then the records, chains and
// indexes (verify.cpp); the check at open after an unclean stop (start_check.cpp). The
// walk runs in a forked child because LMDB aborts the process on some damaged pages: the
// parent reports what the child saw and how it ended, and lives on.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bihuan/definition.hpp"
#include "bihuan/instance.hpp"
#include "bihuan/problem.hpp"

namespace bihuan {
class AttachmentStore;  // bihuan/attachments.hpp
}
namespace bihuan::storage {
class Env;  // storage/lmdb_env.hpp
}

namespace bihuan::runtime {

// Lines a child process sends its parent through a pipe: a tag character, then text.
class ChildOut {
 public:
  explicit ChildOut(int fd) : fd_(fd) {}
  // One line; newlines in `text` become spaces. Written at once (a crash right after
  // still leaves it with the parent).
  void line(char tag, std::string_view text);

 private:
  int fd_;
};

struct ChildEnd {
  std::vector<std::string> lines;  // as sent: tag character first
  std::string death;               // "" if work returned; else how the child ended
};

// Runs work(out) in a forked child process and collects its lines; waits for it to end.
// In the child only the calling thread exists: `work` must take no lock another thread
// may hold (copy what it needs, such as the definitions, before), and it never returns
// into the caller's code (the child _exits after `work`).
// in_process: on a thread of this process instead (a remote store: no LMDB page can
// crash the check, and a forked child must not use the parent's connections).
ChildEnd run_in_child(const std::function<void(ChildOut&)>& work, bool in_process = false);

// The definitions a check knows, copied before the fork (no registry lock in the child).
using DefinitionSet =
    std::map<std::pair<std::string, std::int64_t>, std::shared_ptr<const Definition>>;

// Checks the store in `dir` from a child process: the structural walk of every database
// (storage/walk.hpp); then, if `defs` is given and the structure is sound, every record,
// history chain and index (idempotency, business keys, state index, timers, children,
// outbox) against the records. Never aborts the caller: a child that dies is reported as
// damage in the database it was walking. Named files are checked with
// `attachments`->check() when given, else AttachmentStore::check_file on `dir`.
// With `remote` (an Env over a remote store, remote.hpp): no structural walk (the server
// keeps its own structure), the records and indexes checked in this process.
VerifyReport check_store(const std::string& dir, const DefinitionSet* defs,
                         const AttachmentStore* attachments = nullptr,
                         storage::Env* remote = nullptr);

// The sentence for a store whose structure is damaged: what is wrong and how to restore.
std::string damaged_store_text(const std::string& dir, const VerifyReport& report);

// The clean-stop marker (docs/storage.md, "Check at open"). begin() runs before the
// environment is opened: the first engine on `dir` (no other process has it open) checks
// the structure unless the last one stopped cleanly, and refuses a damaged store (a
// problem, and nullptr). The object lives as long as the engine; closed_cleanly() after
// the last flush writes the marker if no other engine has the directory open.
class StartCheck {
 public:
  static std::unique_ptr<StartCheck> begin(const std::string& dir, Problems& problems);
  ~StartCheck();
  void closed_cleanly();
  // verify() found the structure damaged: closing will not mark the stop clean, so the
  // next open checks (and refuses) the store.
  void damage_found() { damaged_ = true; }
  bool checked() const { return checked_; }  // whether begin() ran the structural walk

 private:
  StartCheck() = default;
  std::string dir_;
  int fd_ = -1;  // `dir`/open.lock, flock'ed shared while the engine is open
  bool checked_ = false;
  std::atomic<bool> damaged_{false};
};

}  // namespace bihuan::runtime
