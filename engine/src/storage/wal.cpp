#include "storage/wal.hpp"

#include "storage/crash_point.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "storage/crc32c.hpp"
#include "storage/dsync_write.hpp"

namespace bihuan::storage {
namespace {

static_assert(std::endian::native == std::endian::little, "the log's integers are memcpy'd");

constexpr char kMagic[8] = {'B', 'I', 'H', 'U', 'A', 'N', 'W', 'L'};
constexpr std::uint32_t kFrameMagic = 0x42484652;        // "BHFR": the payload as is
constexpr std::uint32_t kPackedFrameMagic = 0x42484643;  // "BHFC": the payload zstd-compressed
constexpr int kZstdLevel = 1;
constexpr char kLiveMagic[8] = {'B', 'I', 'H', 'U', 'A', 'N', 'S', 'H'};
constexpr std::size_t kVersionAt = 8, kGenerationAt = 16, kEndAt = 24, kLastCrcAt = 32,
                      kNextLsnAt = 40;
constexpr std::size_t kLiveBytes = 4096;  // wal.shm
constexpr std::uint64_t kReadWindow = std::uint64_t{1} << 20;
const char kZeros[4096] = {};

void put32(char* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
void put64(char* p, std::uint64_t v) { std::memcpy(p, &v, 8); }
std::uint32_t get32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
std::uint64_t get64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

std::uint64_t padded(std::uint64_t payload_bytes) {
  std::uint64_t n = Wal::kFrameHeaderBytes + payload_bytes;
  return (n + Wal::kFrameAlign - 1) / Wal::kFrameAlign * Wal::kFrameAlign;
}

// CRC-32C over lsn, length, prev_crc (as stored: bytes 8..15, 4..7, 20..23), then payload.
std::uint32_t frame_crc(const char* header, std::string_view payload) {
  std::uint32_t c = crc32c(std::string_view(header + 8, 8));
  c = crc32c(std::string_view(header + 4, 4), c);
  c = crc32c(std::string_view(header + 20, 4), c);
  return crc32c(payload, c);
}

std::string hex32(std::uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

std::string sys(const char* what, int err) { return std::string(what) + ": " + std::strerror(err); }

int pwrite_all(int fd, const char* p, std::size_t n, std::uint64_t at) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(at));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    at += static_cast<std::uint64_t>(w);
  }
  return 0;
}

// One pwrite per 4 KiB page: the page cache then holds each page in a folio of its own.
// Written in larger pieces, the pages would land in large folios (ext4, kernel 6.16 and
// later; see Env::cache_ahead), and an append that dirties 512 bytes of such a folio has
// fdatasync write all of it (measured: about 1 MiB a commit after 1 MiB pieces, 4 KiB after
// 4 KiB pieces).
int write_zeros(int fd, std::uint64_t from, std::uint64_t to) {
  while (from < to) {
    std::uint64_t n = std::min<std::uint64_t>(sizeof kZeros - from % sizeof kZeros, to - from);
    if (int rc = pwrite_all(fd, kZeros, n, from)) return rc;
    from += n;
  }
  return 0;
}

int sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

// Open-file-description locks (F_OFD_SETLKW: per open file description like flock, so two
// Wal objects in one process exclude each other like two processes) on one byte each:
// kTurnstile, held exclusive briefly by readers coming in and by a writer while it waits,
// so that readers arriving after a waiting writer queue behind it (flock and fcntl locks
// alone let a stream of overlapping shared holders starve a writer); kMain, the lock
// itself (shared or exclusive).
constexpr off_t kTurnstile = 0, kMain = 1;

// Waits for the lock, or with wait false takes it only if it is free now (else EAGAIN).
int ofd_lock(int fd, off_t byte, short type, bool wait = true) {
  struct flock l {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  l.l_start = byte;
  l.l_len = 1;
  while (::fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &l) != 0)
    if (errno != EINTR) return errno;
  return 0;
}

// Reads a file through a window of at least 1 MiB, for scans of many small frames; holds
// the decompressed payload of the last compressed frame parsed.
class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  ~Reader() { ZSTD_freeDCtx(dctx_); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  // The bytes [at, at + n), or false and *err (0: the file ends before at + n).
  bool get(std::uint64_t at, std::size_t n, std::string_view* out, int* err) {
    if (at < base_ || at + n > base_ + buf_.size()) {
      buf_.resize(std::max<std::size_t>(n, kReadWindow));
      std::size_t got = 0;
      while (got < buf_.size()) {
        ssize_t r =
            ::pread(fd_, buf_.data() + got, buf_.size() - got, static_cast<off_t>(at + got));
        if (r < 0) {
          if (errno == EINTR) continue;
          buf_.clear();
          *err = errno;
          return false;
        }
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
      }
      buf_.resize(got);
      base_ = at;
      if (got < n) {
        *err = 0;
        return false;
      }
    }
    *out = std::string_view(buf_.data() + (at - base_), n);
    return true;
  }

  // The content of one zstd frame `packed` (valid until the next unpack), or false and
  // *why (the content size is absent, over 4 GiB or not what the frame holds).
  bool unpack(std::string_view packed, std::string_view* out, std::string* why) {
    const unsigned long long size = ZSTD_getFrameContentSize(packed.data(), packed.size());
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR || size > UINT32_MAX) {
      *why =
          "the compressed payload does not decompress (it states no content size of at "
          "most 4 GiB)";
      return false;
    }
    if (!dctx_ && !(dctx_ = ZSTD_createDCtx())) {
      *why = "zstd: cannot make a decompression context";
      return false;
    }
    plain_.resize(size);
    const std::size_t n =
        ZSTD_decompressDCtx(dctx_, plain_.data(), plain_.size(), packed.data(), packed.size());
    if (ZSTD_isError(n) || n != size) {
      *why = std::string("the compressed payload does not decompress (") +
             (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short") + ")";
      return false;
    }
    *out = plain_;
    return true;
  }

 private:
  int fd_;
  std::uint64_t base_ = 0;
  std::string buf_;
  std::string plain_;
  ZSTD_DCtx* dctx_ = nullptr;
};

struct Frame {
  std::uint64_t lsn = 0, bytes = 0;  // bytes: padded size
  std::uint32_t crc = 0, prev_crc = 0;
  std::string_view payload;  // valid until the reader's next get
};

// invalid: not a frame (the chain ends there); damaged: a whole frame (its crc holds) whose
// content cannot be read, which no torn write makes; io: the read failed.
enum class Parse { ok, invalid, damaged, io };

// The frame at `at`, which must end by `limit`; *why says what is wrong otherwise.
Parse parse_frame(Reader& reader, std::uint64_t at, std::uint64_t limit, Frame* f,
                  std::string* why) {
  std::string_view head;
  int err = 0;
  if (at + Wal::kFrameHeaderBytes > limit) {
    *why = "a frame header (24 bytes) runs past offset " + std::to_string(limit);
    return Parse::invalid;
  }
  if (!reader.get(at, Wal::kFrameHeaderBytes, &head, &err)) {
    *why = err ? sys("read", err) : "the file ends inside a frame header";
    return err ? Parse::io : Parse::invalid;
  }
  const std::uint32_t magic = get32(head.data());
  if (magic != kFrameMagic && magic != kPackedFrameMagic) {
    *why = "expected the frame magic " + hex32(kFrameMagic) + " or " + hex32(kPackedFrameMagic) +
           ", found " + hex32(magic);
    return Parse::invalid;
  }
  std::uint32_t length = get32(head.data() + 4);
  f->lsn = get64(head.data() + 8);
  f->crc = get32(head.data() + 16);
  f->prev_crc = get32(head.data() + 20);
  f->bytes = padded(length);
  if (at + f->bytes > limit) {
    *why =
        "payload length " + std::to_string(length) + " runs past offset " + std::to_string(limit);
    return Parse::invalid;
  }
  std::string_view whole;
  if (!reader.get(at, Wal::kFrameHeaderBytes + length, &whole, &err)) {
    *why = err ? sys("read", err) : "the file ends inside the frame";
    return err ? Parse::io : Parse::invalid;
  }
  f->payload = whole.substr(Wal::kFrameHeaderBytes);
  if (std::uint32_t c = frame_crc(whole.data(), f->payload); c != f->crc) {
    *why = "crc mismatch (the frame says " + hex32(f->crc) + ", its bytes give " + hex32(c) + ")";
    return Parse::invalid;
  }
  if (magic == kPackedFrameMagic && !reader.unpack(f->payload, &f->payload, why))
    return Parse::damaged;
  return Parse::ok;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view in, std::size_t* at, std::uint64_t* v) {
  std::uint64_t r = 0;
  for (int shift = 0; shift < 64 && *at < in.size(); shift += 7) {
    auto b = static_cast<unsigned char>(in[(*at)++]);
    if (shift == 63 && b > 1) return false;
    r |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

}  // namespace

// --- The op codec ---

void encode_op(Db db, bool put, std::string_view key, std::string_view value, std::string& out) {
  out.push_back(static_cast<char>(static_cast<unsigned>(db)));
  out.push_back(put ? 1 : 0);
  put_varint(out, key.size());
  out += key;
  if (put) {
    put_varint(out, value.size());
    out += value;
  }
}

void encode_ops(const std::vector<WalOp>& ops, std::string& out) {
  for (const WalOp& op : ops) encode_op(op.db, op.put, op.key, op.value, out);
}

bool decode_ops(std::string_view payload, std::vector<WalOp>& out, std::string* error) {
  std::size_t at = 0;
  for (std::size_t n = 0; at < payload.size(); ++n) {
    auto fail = [&](const std::string& what) {
      if (error)
        *error = "op " + std::to_string(n) + " at byte " + std::to_string(at) + " of " +
                 std::to_string(payload.size()) + ": " + what;
      return false;
    };
    auto bytes = [&](const char* name, std::string* s) {
      std::uint64_t len = 0;
      std::size_t start = at;
      if (!get_varint(payload, &at, &len)) {
        at = start;
        return fail(std::string("expected the ") + name + " length (a varint)");
      }
      if (len > payload.size() - at)
        return fail(std::string("the ") + name + " length " + std::to_string(len) +
                    " runs past the end");
      s->assign(payload.substr(at, len));
      at += len;
      return true;
    };
    if (payload.size() - at < 2) return fail("expected a database byte and a kind byte");
    auto db = static_cast<unsigned char>(payload[at]);
    if (db >= static_cast<unsigned>(Db::count_))
      return fail("database " + std::to_string(db) + " is out of range (expected below " +
                  std::to_string(static_cast<unsigned>(Db::count_)) + ")");
    auto kind = static_cast<unsigned char>(payload[at + 1]);
    if (kind > 1)
      return fail("kind " + std::to_string(kind) + " is neither 1 (put) nor 0 (delete)");
    at += 2;
    WalOp op{static_cast<Db>(db), kind == 1, {}, {}};
    if (!bytes("key", &op.key)) return false;
    if (op.put && !bytes("value", &op.value)) return false;
    out.push_back(std::move(op));
  }
  return true;
}

// --- Opening ---

std::unique_ptr<Wal> Wal::open(const std::string& dir, std::string* error,
                               std::uint64_t segment_bytes) {
  std::unique_ptr<Wal> wal(new Wal());
  wal->dir_ = dir;
  wal->path_ = dir + "/wal.log";
  wal->segment_bytes_ = segment_bytes;
  const std::string& path = wal->path_;
  auto fail = [&](const std::string& why) {
    if (error) *error = path + ": " + why;
    return nullptr;
  };
  if (segment_bytes < 2 * kHeaderBytes || segment_bytes % kFrameAlign != 0)
    return fail("segment size " + std::to_string(segment_bytes) +
                " is not a multiple of 512 of at least 8192");

  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    // Made complete under a temporary name, then linked into place (link, unlike rename,
    // never replaces a log another process made meanwhile).
    static std::atomic<unsigned> counter{0};
    std::string tmp =
        path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
    int t = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (t < 0) return fail(sys(("create " + tmp).c_str(), errno));
    char page[kHeaderBytes] = {};
    std::memcpy(page, kMagic, 8);
    put32(page + kVersionAt, kVersion);
    int rc = pwrite_all(t, page, sizeof page, 0);
    if (!rc) rc = write_zeros(t, kHeaderBytes, segment_bytes);
    if (!rc && ::fsync(t) != 0) rc = errno;
    ::close(t);
    if (!rc && ::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) rc = errno;
    ::unlink(tmp.c_str());
    if (!rc) rc = sync_dir(dir);
    if (rc) return fail(sys("create", rc));
    fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (fd < 0) return fail(sys("open", errno));
  wal->fd_ = fd;
  // Appends go straight to the device where the file system allows it: a commit then
  // writes its frames' 512-byte sectors, not whole 4 KiB pages, and skips the page cache's
  // writeback (about a third of the CPU time of a one-step commit, measured). Reads stay
  // buffered: the kernel drops the cached pages a direct write covers.
  if (!std::getenv("BIHUAN_WAL_BUFFERED"))
    wal->dfd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT);
  // Reads bring in exactly the pages asked for, as 4 KiB folios, with no readahead into the
  // region appends write next (write_zeros says why large folios there would cost).
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);

  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(sys("stat", errno));
  if (static_cast<std::uint64_t>(st.st_size) < kHeaderBytes)
    return fail("at offset 0: expected a header page of 4096 bytes, the file has " +
                std::to_string(st.st_size));
  wal->file_bytes_ = static_cast<std::uint64_t>(st.st_size);
  char head[16];
  if (::pread(fd, head, sizeof head, 0) != static_cast<ssize_t>(sizeof head))
    return fail(sys("read the header", errno));
  if (std::memcmp(head, kMagic, 8) != 0)
    return fail("at offset 0: expected the magic \"BIHUANWL\" of a Bihuan write-ahead log");
  const std::uint32_t v = get32(head + kVersionAt);
  if (v != 1 && v != kVersion)
    return fail("at offset 8: format version " + std::to_string(v) +
                " is unknown (expected version 1 or " + std::to_string(kVersion) + ")");
  wal->version_ = v;
  if (std::string why = wal->map_live(); !why.empty()) return fail(why);
  return wal;
}

// wal.shm, made (or made again if it is not one) under the log's exclusive lock, so that
// two processes opening at once agree on it.
std::string Wal::map_live() {
  const std::string shm = dir_ + "/wal.shm";
  if (int rc = ofd_lock(fd_, kMain, F_WRLCK)) return sys("lock", rc);
  int fd = ::open(shm.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  std::string why;
  struct stat st {};
  char head[8] = {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    why = sys(("open " + shm).c_str(), errno);
  } else if (static_cast<std::uint64_t>(st.st_size) != kLiveBytes || ::pread(fd, head, 8, 0) != 8 ||
             std::memcmp(head, kLiveMagic, 8) != 0) {
    char page[kLiveBytes] = {};
    std::memcpy(page, kLiveMagic, 8);
    put32(page + kVersionAt, kVersion);
    put64(page + kEndAt, kHeaderBytes);  // a hint like any other: recover() sets it
    int rc = pwrite_all(fd, page, sizeof page, 0);
    if (!rc && ::ftruncate(fd, kLiveBytes) != 0) rc = errno;
    if (rc) why = sys(("write " + shm).c_str(), rc);
  }
  if (why.empty()) {
    void* map = ::mmap(nullptr, kLiveBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
      why = sys(("map " + shm).c_str(), errno);
    else
      live_ = static_cast<unsigned char*>(map);
  }
  if (fd >= 0) ::close(fd);  // the mapping stays
  ofd_lock(fd_, kMain, F_UNLCK);
  return why;
}

Wal::~Wal() {
  ZSTD_freeCCtx(cctx_);
  if (live_) ::munmap(live_, kLiveBytes);
  if (fd_ >= 0) ::close(fd_);
  if (dfd_ >= 0) ::close(dfd_);
}

std::string Wal::where(std::uint64_t offset) const {
  return path_ + ": at offset " + std::to_string(offset) + ": ";
}

namespace {
std::atomic_ref<std::uint64_t> live(unsigned char* header, std::size_t at) {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(header + at));
}
}  // namespace

std::uint64_t Wal::generation() const {
  return live(live_, kGenerationAt).load(std::memory_order_acquire);
}
std::uint64_t Wal::end() const { return live(live_, kEndAt).load(std::memory_order_acquire); }
std::uint64_t Wal::next_lsn() const {
  std::uint64_t v = live(live_, kNextLsnAt).load(std::memory_order_acquire);
  return v ? v : 1;
}
void Wal::set_next_lsn(const Lock& lock, std::uint64_t lsn) {
  if (exclusive_held(lock)) live(live_, kNextLsnAt).store(lsn, std::memory_order_release);
}

// --- Locks ---

// The file locks only fail for bad arguments, a lack of kernel memory (ENOLCK) or a
// deadlock the kernel detects (none: one byte at a time, the turnstile first); the
// in-process lock still orders this process's threads then.
Wal::Lock Wal::lock(bool exclusive) {
  std::unique_lock g(mu_);
  if (exclusive) {
    ++writers_waiting_;
    cv_.wait(g, [&] { return !writer_ && readers_ == 0; });
    --writers_waiting_;
    writer_ = true;
    g.unlock();
    // Free at once (the common case): one system call. Else through the turnstile, where
    // the waiting writer holds back readers that come after it.
    if (ofd_lock(fd_, kMain, F_WRLCK, false) != 0) {
      ofd_lock(fd_, kTurnstile, F_WRLCK);
      ofd_lock(fd_, kMain, F_WRLCK);
      ofd_lock(fd_, kTurnstile, F_UNLCK);
    }
  } else {
    cv_.wait(g, [&] { return !writer_ && writers_waiting_ == 0; });  // writers first
    ++readers_;
    g.unlock();
    // One thread at a time through the turnstile (an OFD lock is this object's, not the
    // thread's). Not under count_mu_: a reader leaving must be able to release the file
    // lock that a writer waiting ahead of this one needs.
    std::lock_guard entry(entry_mu_);
    ofd_lock(fd_, kTurnstile, F_WRLCK);
    {
      std::lock_guard count(count_mu_);
      if (file_readers_++ == 0) ofd_lock(fd_, kMain, F_RDLCK);
    }
    ofd_lock(fd_, kTurnstile, F_UNLCK);
  }
  return Lock(this, exclusive);
}

void Wal::Lock::release() {
  if (!wal_) return;
  if (exclusive_) {
    // An append started and never finished is dropped: its write may land, but end()
    // stays, so the next append writes over it (as after a failed append).
    if (wal_->inflight_.active) {
      if (wal_->inflight_.async) wal_->aio_->wait(std::chrono::microseconds(0));
      wal_->inflight_ = Inflight{};
    }
    ofd_lock(wal_->fd_, kMain, F_UNLCK);
    std::lock_guard g(wal_->mu_);
    wal_->writer_ = false;
  } else {
    {
      std::lock_guard count(wal_->count_mu_);
      if (--wal_->file_readers_ == 0) ofd_lock(wal_->fd_, kMain, F_UNLCK);
    }
    std::lock_guard g(wal_->mu_);
    --wal_->readers_;
  }
  wal_->cv_.notify_all();
  wal_ = nullptr;
}

Wal::Lock::Lock(Lock&& other) noexcept : wal_(other.wal_), exclusive_(other.exclusive_) {
  other.wal_ = nullptr;
}

Wal::Lock& Wal::Lock::operator=(Lock&& other) noexcept {
  if (this != &other) {
    release();
    wal_ = std::exchange(other.wal_, nullptr);
    exclusive_ = other.exclusive_;
  }
  return *this;
}

Wal::Lock::~Lock() { release(); }

// --- Appending ---

int Wal::ensure_space(std::uint64_t up_to) {
  if (up_to <= file_bytes_) return 0;
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return errno;
  file_bytes_ = static_cast<std::uint64_t>(st.st_size);  // another process may have grown it
  if (up_to <= file_bytes_) return 0;
  std::uint64_t steps = (up_to - file_bytes_ + segment_bytes_ - 1) / segment_bytes_;
  std::uint64_t size = file_bytes_ + steps * segment_bytes_;
  if (int rc = write_zeros(fd_, file_bytes_, size)) return rc;
  if (::fsync(fd_) != 0) return errno;
  if (int rc = sync_dir(dir_)) return rc;
  file_bytes_ = size;
  return 0;
}

int Wal::append(const Lock& lock, std::uint64_t lsn, std::string_view payload) {
  if (!exclusive_held(lock)) return EINVAL;
  if (int rc = start_views({{lsn, payload}}, false)) return rc;
  return append_finish(lock);
}

int Wal::append(const Lock& lock,
                const std::vector<std::pair<std::uint64_t, std::string>>& frames) {
  if (!exclusive_held(lock)) return EINVAL;
  std::vector<std::pair<std::uint64_t, std::string_view>> views(frames.begin(), frames.end());
  if (int rc = start_views(views, false)) return rc;
  return append_finish(lock);
}

int Wal::append_start(const Lock& lock, std::uint64_t lsn, std::string_view payload, bool poll) {
  if (!exclusive_held(lock)) return EINVAL;
  return start_views({{lsn, payload}}, poll);
}

constexpr std::uint64_t kDirectMaxBytes = 64 * 1024;  // appends up to this size go O_DIRECT
// How long a waiter polls for a lone append's completion before it sleeps: well past a
// flush of this kind of disk (0.1-0.2 ms), short of holding a core on a slow one.
constexpr std::chrono::microseconds kPollFlush{2000};

int Wal::start_views(const std::vector<std::pair<std::uint64_t, std::string_view>>& frames,
                     bool poll) {
  if (inflight_.active) return EBUSY;
  if (frames.empty()) {  // nothing to write: a finish with nothing to do
    inflight_ = Inflight{};
    inflight_.active = true;
    return 0;
  }
  const std::uint64_t at = end();
  if (at < kHeaderBytes || (at - kHeaderBytes) % kFrameAlign != 0) return EINVAL;
  // What each frame stores: its payload, or (version 2) the payload compressed where
  // that saves a sector; packed[i] is empty unless frame i is stored compressed.
  std::vector<std::string> packed(frames.size());
  std::vector<std::string_view> stored(frames.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    std::string_view payload = frames[i].second;
    if (payload.size() > UINT32_MAX - kFrameHeaderBytes) return EINVAL;
    stored[i] = payload;
    if (version_ >= 2 && payload.size() >= kCompressFromBytes) {
      if (!cctx_) {
        // Level 1 with zstd's own checksum of the content: the crc covers the stored bytes,
        // the checksum what they decompress to.
        if (!(cctx_ = ZSTD_createCCtx())) return ENOMEM;
        ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, kZstdLevel);
        ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
      }
      packed[i].resize(ZSTD_compressBound(payload.size()));
      const std::size_t n =
          ZSTD_compress2(cctx_, packed[i].data(), packed[i].size(), payload.data(), payload.size());
      if (!ZSTD_isError(n) && padded(n) < padded(payload.size())) {
        packed[i].resize(n);
        stored[i] = packed[i];
      } else {
        packed[i].clear();
      }
    }
    total += padded(stored[i].size());
  }
  // Aligned for O_DIRECT (the frames are whole 512-byte sectors already).
  Inflight f;
  f.buf.reset(static_cast<char*>(
      std::aligned_alloc(kHeaderBytes, (total + kHeaderBytes - 1) / kHeaderBytes * kHeaderBytes)));
  if (!f.buf) return ENOMEM;
  char* buf = f.buf.get();
  std::memset(buf, 0, total);
  std::uint32_t prev =
      static_cast<std::uint32_t>(live(live_, kLastCrcAt).load(std::memory_order_acquire));
  std::size_t pos = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const std::string_view payload = stored[i];
    char* h = buf + pos;
    put32(h, packed[i].empty() ? kFrameMagic : kPackedFrameMagic);
    put32(h + 4, static_cast<std::uint32_t>(payload.size()));
    put64(h + 8, frames[i].first);
    put32(h + 20, prev);
    std::memcpy(h + kFrameHeaderBytes, payload.data(), payload.size());
    prev = frame_crc(h, payload);
    put32(h + 16, prev);
    pos += padded(payload.size());
  }
  if (int rc = ensure_space(at + total)) return rc;
  f.at = at;
  f.total = total;
  f.crc = prev;
  f.active = true;
  // Large group commits stay buffered: the kernel writes them as well, and a direct write
  // of many frames measured a little slower (bench_rectification, durable-interleaved).
  // Small ones are direct; a lone step's, where the kernel allows, written and flushed as
  // one request that append_finish() awaits by polling (storage/dsync_write.hpp).
  const bool direct = dfd_ >= 0 && total <= kDirectMaxBytes;
  if (direct && poll && !aio_off_) {
    if (!aio_) aio_ = DsyncWrite::make();
    if (!aio_) {
      aio_off_ = true;
    } else if (int rc = aio_->start(dfd_, buf, total, at); rc == 0) {
      f.async = true;
      inflight_ = std::move(f);
      return 0;
    } else if (rc != EAGAIN) {
      aio_off_ = true;  // this kernel or file refuses it (or a forked child's context)
    }
  }
  int rc = direct ? pwrite_all(dfd_, buf, total, at) : EINVAL;
  if (rc == EINVAL && direct) stop_direct();  // refused before anything was written
  if (!direct || dfd_ < 0) rc = pwrite_all(fd_, buf, total, at);
  if (rc) return rc;
  inflight_ = std::move(f);
  return 0;
}

void Wal::stop_direct() {
  // The device refuses direct writes of 512-byte sectors (4 KiB sectors): buffered from now on.
  ::close(dfd_);
  dfd_ = -1;
}

int Wal::append_finish(const Lock& lock) {
  if (!exclusive_held(lock) || !inflight_.active) return EINVAL;
  Inflight f = std::move(inflight_);
  inflight_ = Inflight{};
  if (f.total == 0) return 0;
  bool durable = false;
  if (f.async) {
    const std::int64_t got = aio_->wait(kPollFlush);
    const auto total = static_cast<std::int64_t>(f.total);
    if (got == total) {
      durable = true;
      ++one_request_appends_;
    } else {
      // Short, or refused at completion: the ordinary way for all of it (a rewrite of
      // what did land is harmless). A refusal by the device of direct writes as such
      // (EINVAL) makes appends buffered from now on; any other error is the append's.
      if (got < 0 && got != -EINVAL) return static_cast<int>(-got);
      if (got == -EINVAL) stop_direct();
      int fd = dfd_ >= 0 ? dfd_ : fd_;
      if (int rc = pwrite_all(fd, f.buf.get(), f.total, f.at)) return rc;
    }
  }
  crash_point("log-written");
  if (!durable && ::fdatasync(fd_) != 0) return errno;
  live(live_, kLastCrcAt).store(f.crc, std::memory_order_release);
  live(live_, kEndAt).store(f.at + f.total, std::memory_order_release);
  return 0;
}

// --- Reading and recovery ---

std::uint64_t Wal::read(const Lock& lock, std::uint64_t from, std::uint64_t to,
                        const std::function<void(std::uint64_t, std::string_view)>& f,
                        std::string* error) const {
  auto fail = [&](std::uint64_t at, const std::string& why) {
    if (error) *error = where(at) + why;
    return at;
  };
  if (!lock.holds(*this)) return fail(from, "read() needs a lock of this log");
  if (from < kHeaderBytes || (from - kHeaderBytes) % kFrameAlign != 0)
    return fail(from, "not a frame boundary (expected 4096 + a multiple of 512)");
  Reader reader(fd_);
  std::uint64_t at = from;
  while (at < to) {
    Frame frame;
    std::string why;
    if (parse_frame(reader, at, to, &frame, &why) != Parse::ok) return fail(at, why);
    f(frame.lsn, frame.payload);
    at += frame.bytes;
  }
  return at;
}

std::string Wal::recover(const Lock& lock, std::uint64_t applied, Recovered* out) {
  if (!exclusive_held(lock)) return path_ + ": recover() needs this log's exclusive lock";
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return path_ + ": " + sys("stat", errno);
  const auto limit = static_cast<std::uint64_t>(st.st_size);
  Recovered r;
  Reader reader(fd_);
  std::uint64_t at = kHeaderBytes;
  std::uint32_t last_crc = 0;
  for (bool first = true;; first = false) {
    Frame frame;
    std::string why;
    Parse p = parse_frame(reader, at, limit, &frame, &why);
    if (p == Parse::io || p == Parse::damaged) return where(at) + why;
    if (p == Parse::invalid) break;  // the torn or stale tail
    if (!first && (frame.lsn != r.last_lsn + 1 || frame.prev_crc != last_crc)) break;
    if (frame.lsn > applied) {
      if (r.frames.empty() && frame.lsn != applied + 1)
        return where(at) + "the log goes on with lsn " + std::to_string(frame.lsn) +
               " but the applied lsn is " + std::to_string(applied) + ": frames " +
               std::to_string(applied + 1) + ".." + std::to_string(frame.lsn - 1) + " are lost";
      r.frames.emplace_back(frame.lsn, std::string(frame.payload));
    }
    r.last_lsn = frame.lsn;
    last_crc = frame.crc;
    at += frame.bytes;
  }
  r.end = at;
  live(live_, kLastCrcAt).store(last_crc, std::memory_order_release);
  live(live_, kEndAt).store(at, std::memory_order_release);
  *out = std::move(r);
  return {};
}

void Wal::reset(const Lock& lock) {
  if (!exclusive_held(lock)) return;
  if (version_ < kVersion) {
    // No frame is in the log now, so no reader can meet a compressed frame under the old
    // header: write the new one (its first sector) and sync it before any is appended.
    char sector[kFrameAlign] = {};
    std::memcpy(sector, kMagic, 8);
    put32(sector + kVersionAt, kVersion);
    if (pwrite_all(fd_, sector, sizeof sector, 0) == 0 && ::fdatasync(fd_) == 0)
      version_ = kVersion;
  }
  live(live_, kEndAt).store(kHeaderBytes, std::memory_order_release);
  live(live_, kLastCrcAt).store(0, std::memory_order_release);
  live(live_, kGenerationAt).fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace bihuan::storage
