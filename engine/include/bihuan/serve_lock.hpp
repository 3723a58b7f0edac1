// One data directory, one dispatcher: the serve lock.
//
// Steps may come from several processes at once (LMDB lets one write at a time, and the
// engine notices another process's commits), but the outbox must be delivered by one
// dispatcher only: two would both take every due message and deliver it twice. The serve
// lock is an advisory lock, flock(2) on <data_dir>/serve.lock, that the process running
// the dispatcher holds for its whole life. `bihuan serve` takes it before it opens the
// engine (a second server on the same directory stops at once, naming the holder); a
// Dispatcher takes it itself unless it is handed one (DispatcherOptions::lock). The CLI's
// reads and steps never take it.
//
// The kernel releases the lock when its file is closed, so a process killed with SIGKILL
// (or one that crashed) never leaves a stale lock: the next start takes it. The file
// itself stays, holding the last holder's pid (for the message only; the lock is what
// counts). The descriptor is close-on-exec, so a child process (a plugin's helper) never
// keeps the lock alive after its parent is gone.
//
// Thread-safety: acquire() from any thread. A lock is exclusive between processes and
// also within one: a second acquire() on the same directory fails while the first lives.
#pragma once

#include <memory>
#include <string>

namespace bihuan {

class ServeLock {
 public:
  // Takes the lock of `data_dir` (which must exist), creating serve.lock (mode 0640) if
  // needed, and writes this process's pid into it. nullptr when the directory is already
  // served, with *error naming the directory, the holder's pid (when it can be read) and
  // what to do; or when the lock file cannot be opened or locked (*error says why).
  static std::unique_ptr<ServeLock> acquire(const std::string& data_dir, std::string* error);

  ~ServeLock();  // releases the lock
  ServeLock(const ServeLock&) = delete;
  ServeLock& operator=(const ServeLock&) = delete;

  const std::string& data_dir() const { return data_dir_; }
  // <data_dir>/serve.lock
  static std::string file_of(const std::string& data_dir);

 private:
  ServeLock(int fd, std::string data_dir) : fd_(fd), data_dir_(std::move(data_dir)) {}
  int fd_;
  std::string data_dir_;
};

}  // namespace bihuan
