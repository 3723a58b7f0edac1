// The write-ahead log file (issue 24, docs/design-one-flush.md): <dir>/wal.log, where a
// commit is one small sequential write and one fdatasync. This module knows frames and
// bytes only; what a payload means (encode_ops below) and when LMDB is written are the
// caller's.
//
// Format (version 2; integers little-endian):
//   bytes 0..4095 of wal.log, the header page, written when the file is made:
//     0 magic "BIHUANWL" (8 bytes)   8 u32 format version = 2   the rest zero (reserved)
//   frames from byte 4096, each padded with zeros to a multiple of 512 bytes (a sector, so
//   a torn write tears the tail only):
//     0 u32 magic   4 u32 stored length   8 u64 lsn   16 u32 crc   20 u32 prev_crc
//     24 the stored payload, zero padding
//   magic 0x42484652 ("BHFR"): the payload as is. Magic 0x42484643 ("BHFC", version 2 only):
//   the payload compressed, one zstd frame that states its content size (at most 4 GiB).
//   crc = CRC-32C over bytes 8..15 (lsn), 4..7 (length), 20..23 (prev_crc), then the stored
//   payload. prev_crc = the crc of the frame before it in the log, 0 for the first frame
//   after a reset (or in a new file).
//   Compression: a payload of kCompressFromBytes or more is stored compressed (zstd level 1)
//   when that saves at least one sector. One-step commits (about 2 KB) stay plain: their
//   latency is the flush's, and compressing them would save no sector worth its time.
//   Version 1 (before compression): the same without "BHFC" frames. A version 1 file opens
//   and is appended to with plain frames; the next reset (the log holds no frame then)
//   rewrites its header as version 2 and syncs it before any compressed frame is written,
//   so a version 1 reader never meets one. A version 1 build refuses a version 2 file,
//   naming both versions.
//
// The live fields live beside it, in <dir>/wal.shm (4096 bytes: 0 magic "BIHUANSH", 8 u32
// version 1, 16 u64 generation, 24 u64 end, 32 u64 last_crc, 40 u64 next_lsn, the rest zero), which
// every process maps MAP_SHARED and reads with std::atomic_ref (acquire/release). They are hints
// for live processes, never synced: recovery does not read them, it scans the frames. They
// are not in wal.log's own first page because fdatasync writes every dirty page of the
// file: a header page dirtied by each append would double the pages each commit flushes
// (measured: 8 KiB instead of 4 KiB a commit). A missing or foreign wal.shm is made again
// at open (end = 4096); after a crash it may say anything. So a process that opens the log
// calls recover() before it trusts end().
//
// The chain. The log is the chain of frames from byte 4096: each valid (magic, length
// within the file, crc) and, after the first, with lsn = previous lsn + 1 and prev_crc =
// the previous frame's crc. The chain ends at the first frame that is not; bytes after it
// are a torn or stale tail, not an error. The first frame may have any lsn.
//   INVARIANT the caller keeps: an lsn is never used twice for different frames, so lsns
//   only grow, across resets too (the next lsn is above both the applied lsn and the
//   chain's last lsn, see Recovered). Then a frame of an earlier generation found right
//   after the chain (reset() rewrites from 4096 and erases nothing) has a smaller lsn and
//   ends the chain. prev_crc covers what lsns cannot: a group write torn in the middle (its
//   second frame on disk, its first not) leaves a valid frame k+1 behind a broken k; the
//   next append writes a new k there, and if that one is the same size, the stale k+1
//   follows it with the right lsn, but its prev_crc is the crc of the lost k.
//
// Space. The file is preallocated by writing zeros (not fallocate: writing into unwritten
// extents makes fdatasync journal metadata): segment_bytes (64 MiB) at creation, then
// more segments whenever an append would pass the file's end, followed by fsync of the
// file and of the directory. An append into the written region changes no metadata, so
// its fdatasync flushes the data only. The zeros are written one 4 KiB page per pwrite and
// the log is read with POSIX_FADV_RANDOM, so the page cache holds its pages in 4 KiB folios:
// an append into a large folio (ext4 on kernels 6.16 and later) makes fdatasync write the
// whole folio (measured: 3.2 GB written for 3000 appends of 512 bytes after zeros written in
// 1 MiB pieces, 12 MB after 4 KiB pieces). Appends of up to 64 KiB are written through
// a second descriptor opened O_DIRECT (only their 512-byte sectors reach the disk; the
// kernel drops the cached pages they cover, so buffered readers see them); larger ones,
// and all where direct writes are refused (EINVAL) or BIHUAN_WAL_BUFFERED is set, go
// through the page cache. A new file is made under a temporary name and
// linked into place complete (header written and synced), so a crash never leaves a half
// header; the directory is synced.
//
// Processes and threads. Appends, resets and recovery take the exclusive lock; reading
// frames takes the shared one (Wal::lock: an in-process reader-writer lock for the threads
// of this process, and an open-file-description lock (fcntl F_OFD_SETLKW, like flock per
// open file description) on wal.log for other processes; each Wal object has its own open
// file description, so two Wal objects on one file exclude each other like two processes).
// A waiting writer goes before readers that come after it, in the process and across
// processes (a turnstile byte), so a stream of reads cannot starve appends. An exclusive
// lock that is free is taken at once (one F_OFD_SETLK), without the turnstile.
// generation() and end() may be read by any thread at any time, without the lock, as hints:
// read them again under the lock. Everything else on a Wal is safe from any thread.
// Errors are errno values (0 = success) or sentences naming the file, the offset and what
// was expected.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/db.hpp"
#include "storage/dsync_write.hpp"

struct ZSTD_CCtx_s;  // zstd.h's compression context (wal.cpp)

namespace bihuan::storage {

// One write of a batch, the payload of a frame: ops in order.
// Encoding per op: u8 db, u8 kind (1 put, 0 delete), varint key length, key, and for puts
// varint value length, value (varint: LEB128, 7 bits a byte, low first, at most 10 bytes).
struct WalOp {
  Db db;
  bool put;
  std::string key, value;  // value empty for deletes
  bool operator==(const WalOp&) const = default;
};
void encode_ops(const std::vector<WalOp>& ops, std::string& out);  // appends to out
// One op, without copying its strings (value ignored for deletes).
void encode_op(Db db, bool put, std::string_view key, std::string_view value, std::string& out);
// Appends the ops of `payload` to out. false if malformed (truncated, db or kind out of
// range, a varint too long): then *error (if not null) says which op, at which byte, and
// what was expected; out may hold the ops before it.
bool decode_ops(std::string_view payload, std::vector<WalOp>& out, std::string* error);

class Wal {
 public:
  // 4 MiB segments: a data directory costs 4 MiB of disk until its log grows past it.
  static constexpr std::uint64_t kHeaderBytes = 4096, kSegmentBytes = std::uint64_t{4} << 20;
  static constexpr std::uint64_t kFrameAlign = 512, kFrameHeaderBytes = 24;
  static constexpr std::uint32_t kVersion = 2;
  static constexpr std::uint64_t kCompressFromBytes = 4096;

  // Opens or creates <dir>/wal.log (mode 0640, O_CLOEXEC) and maps the live fields
  // (<dir>/wal.shm, made if missing or foreign).
  // nullptr and *error (the file and the reason) on failure; a file with a wrong magic or
  // an unknown version is refused. segment_bytes (a multiple of 512): the preallocation
  // step (tests use small ones).
  static std::unique_ptr<Wal> open(const std::string& dir, std::string* error,
                                   std::uint64_t segment_bytes = kSegmentBytes);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;
  const std::string& path() const { return path_; }
  // The file's format version as this object knows it (1 until a reset upgrades it).
  std::uint32_t version() const { return version_; }

  // Held access: exclusive (append, reset, recover) or shared (read). Taken in the order
  // in-process lock, then the file lock; released in reverse. Movable, RAII; a
  // moved-from Lock holds nothing. A thread must not take a second lock on the same Wal
  // while it holds one (it would wait for itself).
  class Lock {
   public:
    Lock(Lock&& other) noexcept;
    Lock& operator=(Lock&& other) noexcept;
    ~Lock();
    bool exclusive() const { return exclusive_; }
    bool holds(const Wal& wal) const { return wal_ == &wal; }

   private:
    friend class Wal;
    Lock(Wal* wal, bool exclusive) : wal_(wal), exclusive_(exclusive) {}
    void release();
    Wal* wal_ = nullptr;
    bool exclusive_ = false;
  };
  Lock lock(bool exclusive);

  // Live header fields (any thread, no lock: a hint; read again under the lock).
  std::uint64_t generation() const;
  std::uint64_t end() const;  // file offset just past the chain's last frame
  // The lsn the next frame takes (the caller keeps it: after recovery, after each append).
  std::uint64_t next_lsn() const;
  void set_next_lsn(const Lock& lock, std::uint64_t lsn);

  // Exclusive lock: writes one frame {lsn, payload} at end(), padded, with one pwrite and
  // one fdatasync, then sets end() past it (release store). Grows the file first if
  // needed. 0 or an errno: EINVAL for a lock that is not this Wal's exclusive one, an end()
  // that is not a frame boundary or a payload over 4 GiB; else the system call's. On
  // failure end() does not move (the next append writes over whatever was written).
  int append(const Lock& lock, std::uint64_t lsn, std::string_view payload);
  // Several frames in one write and one fdatasync (group commit); the same contract. The
  // caller gives consecutive lsns (not checked here: recovery ends the chain otherwise).
  int append(const Lock& lock, const std::vector<std::pair<std::uint64_t, std::string>>& frames);
  // append() in two halves, so that the caller can work while the frame is written:
  // append_start writes (or starts writing) the frame; append_finish makes it durable and
  // only then moves end(). Nothing else may be appended, reset or recovered in between,
  // and the lock must be held throughout (releasing it drops an unfinished append).
  // `poll`: for a lone step whose caller waits. A small frame is then written and flushed
  // as one request (storage/dsync_write.hpp), and append_finish waits for it by polling,
  // not sleeping. Not for group commits (measured slower there, polled or slept on: the
  // interleaved benchmark lost 3-26%). The same errors as append(); a start that failed
  // leaves nothing to finish (finish: EINVAL).
  int append_start(const Lock& lock, std::uint64_t lsn, std::string_view payload, bool poll);
  int append_finish(const Lock& lock);
  // Appends of this object written and flushed as one request (for tests).
  std::uint64_t one_request_appends() const { return one_request_appends_; }

  // Either lock: calls f(lsn, payload) for each frame from file offset `from` (a frame
  // boundary >= 4096) up to `to` (normally end()), in order, the payload decompressed.
  // Stops at the first invalid frame (bad magic, length past `to`, bad crc, a compressed
  // payload that does not decompress) and returns the offset where it stopped;
  // if that is before `to`, *error (if not null) names the file, the offset and what was
  // wrong (a frame before end() that is invalid is corruption). Neither lsn continuity nor
  // prev_crc is checked (the caller checks lsns). An I/O error is reported the same way.
  std::uint64_t read(const Lock& lock, std::uint64_t from, std::uint64_t to,
                     const std::function<void(std::uint64_t lsn, std::string_view payload)>& f,
                     std::string* error) const;

  struct Recovered {
    std::vector<std::pair<std::uint64_t, std::string>> frames;  // lsn > applied, in order
    std::uint64_t end = kHeaderBytes;                           // just past the chain's last frame
    std::uint64_t last_lsn = 0;  // lsn of the chain's last frame, 0 if none
  };
  // Exclusive lock, normally at open: scans the chain from byte 4096 whatever end() says
  // (see "The chain" above) and returns its frames with lsn > applied. Then end() becomes
  // the chain's end (the same as before unless the file was torn or end() was stale after
  // a crash: the header page is never synced) and the next append continues the chain.
  // The next lsn to append is max(applied, last_lsn) + 1.
  // Returns "" or an error, and then changes nothing: the chain holds frames > applied but
  // the first of them is not applied + 1 (frames were lost; names the file, the offset
  // and both lsns), a frame whose crc holds but whose compressed payload does not
  // decompress (damage, not a torn tail: the frame was written whole), or an I/O error. A lock that
  // is not this Wal's exclusive one is an error too.
  std::string recover(const Lock& lock, std::uint64_t applied, Recovered* out);

  // Exclusive lock: the log is empty again: end() = 4096 first, then generation() + 1
  // (readers that see either change read again under the lock). Nothing is erased or
  // synced: recovery ends the new chain at the stale frames (INVARIANT above), except that
  // a version 1 header becomes version 2 (written and synced; on failure it stays 1 and
  // frames stay plain). A lock that is not this Wal's exclusive one changes nothing.
  void reset(const Lock& lock);

 private:
  Wal() = default;
  bool exclusive_held(const Lock& lock) const { return lock.wal_ == this && lock.exclusive_; }
  int start_views(const std::vector<std::pair<std::uint64_t, std::string_view>>& frames, bool poll);
  int ensure_space(std::uint64_t up_to);
  void stop_direct();  // closes dfd_: appends are buffered from now on
  std::string where(std::uint64_t offset) const;
  std::string map_live();  // wal.shm
  std::string path_, dir_;
  int fd_ = -1;
  // The same file opened with O_DIRECT, for appends (-1: appends go through the page
  // cache, where the file system or device refuses direct writes of 512-byte sectors).
  int dfd_ = -1;
  // The append between append_start and append_finish (exclusive lock holders).
  struct Inflight {
    std::unique_ptr<char, decltype(&std::free)> buf{nullptr, &std::free};  // the frames
    std::uint64_t at = 0, total = 0;
    std::uint32_t crc = 0;  // the last frame's
    bool active = false;    // total 0: no frames, nothing to finish
    bool async = false;     // in flight through aio_ (written and flushed as one request)
  };
  Inflight inflight_;
  std::unique_ptr<DsyncWrite> aio_;  // made at the first direct append (after inflight_:
                                     // destroyed first, waiting for a write in flight)
  bool aio_off_ = false;             // the kernel or the file refused it: pwrite + fdatasync
  std::uint64_t one_request_appends_ = 0;
  unsigned char* live_ = nullptr;  // the mapped live fields (wal.shm)
  std::uint32_t version_ = kVersion;
  ::ZSTD_CCtx_s* cctx_ = nullptr;  // made on the first compressed frame (exclusive lock)
  std::uint64_t segment_bytes_ = kSegmentBytes;
  std::uint64_t file_bytes_ = 0;  // size known to this object (exclusive lock holders)
  // The in-process lock (writers first: a waiting writer holds back new readers).
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t readers_ = 0, writers_waiting_ = 0;
  bool writer_ = false;
  std::mutex entry_mu_;           // readers through the turnstile, one at a time
  std::mutex count_mu_;           // file_readers_ and the shared file lock
  std::size_t file_readers_ = 0;  // readers of this process holding the file lock shared
};

}  // namespace bihuan::storage
