#include "storage/dsync_write.hpp"

#include <linux/aio_abi.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace bihuan::storage {

namespace {

// glibc has no wrappers for the native AIO calls (libaio is a thin layer over these).
long io_setup(unsigned nr, aio_context_t* ctx) { return ::syscall(SYS_io_setup, nr, ctx); }
long io_destroy(aio_context_t ctx) { return ::syscall(SYS_io_destroy, ctx); }
long io_submit(aio_context_t ctx, long n, iocb** cbs) {
  return ::syscall(SYS_io_submit, ctx, n, cbs);
}
long io_getevents(aio_context_t ctx, long min, long max, io_event* ev, timespec* timeout) {
  return ::syscall(SYS_io_getevents, ctx, min, max, ev, timeout);
}

}  // namespace

std::unique_ptr<DsyncWrite> DsyncWrite::make() {
  aio_context_t ctx = 0;
  if (io_setup(1, &ctx) != 0) return nullptr;
  std::unique_ptr<DsyncWrite> w(new DsyncWrite);
  w->ctx_ = ctx;
  return w;
}

DsyncWrite::~DsyncWrite() {
  if (busy_) wait(std::chrono::microseconds(0));
  io_destroy(ctx_);
}

int DsyncWrite::start(int fd, const void* buf, std::size_t n, std::uint64_t at) {
  if (busy_) return EBUSY;
  iocb cb{};
  cb.aio_fildes = static_cast<std::uint32_t>(fd);
  cb.aio_lio_opcode = IOCB_CMD_PWRITE;
  cb.aio_buf = reinterpret_cast<std::uintptr_t>(buf);
  cb.aio_nbytes = n;
  cb.aio_offset = static_cast<std::int64_t>(at);
  cb.aio_rw_flags = RWF_DSYNC;
  iocb* cbs[1] = {&cb};
  // The kernel copies the iocb at submission: it need not outlive this call.
  long rc = io_submit(ctx_, 1, cbs);
  if (rc == 1) {
    busy_ = true;
    return 0;
  }
  return rc < 0 ? errno : EAGAIN;
}

std::int64_t DsyncWrite::wait(std::chrono::microseconds poll) {
  if (!busy_) return -EINVAL;
  io_event ev{};
  long got = 0;
  if (poll.count() > 0) {
    timespec zero{};
    const auto until = std::chrono::steady_clock::now() + poll;
    for (unsigned i = 0; (got = io_getevents(ctx_, 0, 1, &ev, &zero)) == 0; ++i) {
      if ((i & 7) == 7 && std::chrono::steady_clock::now() >= until) break;
      // Not a pause loop: the flush runs in a kernel worker that may be queued on this
      // very CPU, and must get it at once.
      ::sched_yield();
    }
  }
  while (got == 0 || (got < 0 && errno == EINTR)) got = io_getevents(ctx_, 1, 1, &ev, nullptr);
  busy_ = false;
  if (got < 0) return -errno;
  return ev.res;
}

}  // namespace bihuan::storage
