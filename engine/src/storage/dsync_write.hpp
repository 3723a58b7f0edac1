// One durable write in flight, through Linux's native AIO: an O_DIRECT write with
// RWF_DSYNC, so that the kernel writes and then flushes the device's cache in one request,
// and the caller's thread need not sleep while it does.
//
// Why (docs/PERFORMANCE.md, "A lone step's flush, awaited without sleeping"): a thread
// that sleeps in pwrite and then in fdatasync is woken twice by the disk's interrupt. On a
// virtual machine whose vCPUs halt when idle, a wake-up that must reach another, halted
// vCPU costs tens of microseconds each, a third of a lone step. Here the write's
// completion lands in a ring in our memory and the waiter can look at it without a sleep
// (the flush itself runs in a kernel worker on the CPU that took the write's interrupt).
//
// Contract:
// - At most one write in flight per object; start() while busy() is EBUSY.
// - The buffer passed to start() must stay alive and unchanged until wait() returned (or
//   the object is destroyed: the destructor waits for a write in flight).
// - One thread at a time (the caller serialises: the log's exclusive lock).
// - After a fork, the child cannot use its parent's context: start() then fails (ENOSYS
//   or EINVAL) and the caller writes the ordinary way.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace bihuan::storage {

class DsyncWrite {
 public:
  // nullptr if the kernel gives no AIO context (errno-free: the caller writes as before).
  static std::unique_ptr<DsyncWrite> make();
  ~DsyncWrite();
  DsyncWrite(const DsyncWrite&) = delete;
  DsyncWrite& operator=(const DsyncWrite&) = delete;

  // Starts writing buf[0, n) at offset `at` of `fd` (opened O_DIRECT; buf, n and at
  // aligned as the device needs), durable when it completes. 0, or an errno and nothing is
  // in flight (EOPNOTSUPP/EINVAL: this kernel or file refuses such a write; EAGAIN: no
  // room now).
  int start(int fd, const void* buf, std::size_t n, std::uint64_t at);
  bool busy() const { return busy_; }
  // Waits for the write in flight: first by looking at the completion ring, yielding the
  // CPU between looks, for up to `poll`; then by sleeping. Returns the bytes written (they
  // and what the file needs to find them are durable; fewer than n: the rest is not
  // written) or -errno. Only while busy().
  std::int64_t wait(std::chrono::microseconds poll);

 private:
  DsyncWrite() = default;
  unsigned long ctx_ = 0;  // aio_context_t: the address of the kernel's completion ring
  bool busy_ = false;
};

}  // namespace bihuan::storage
