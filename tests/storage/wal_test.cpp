// The write-ahead log file (storage/wal.hpp): CRC-32C, the op codec, appending and reading
// frames, recovery of the chain (torn, corrupt and stale tails, gaps, resets), growth, the
// cross-object lock and a foreign file. Real files in a temporary directory; segments of
// 1 MiB so that growth is quick.
#include "storage/wal.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <thread>

#include "storage/crc32c.hpp"
#include "storage/dsync_write.hpp"

namespace bihuan::storage {
namespace {

namespace fs = std::filesystem;
using Frames = std::vector<std::pair<std::uint64_t, std::string>>;
constexpr std::uint64_t kSegment = std::uint64_t{1} << 20;

class WalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ =
        fs::temp_directory_path() / ("bihuan-wal-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Wal> open() {
    std::string error;
    auto wal = Wal::open(dir_.string(), &error, kSegment);
    EXPECT_TRUE(wal) << error;
    return wal;
  }

  static Frames read_all(Wal& wal, std::string* error = nullptr) {
    Frames got;
    auto lock = wal.lock(false);
    std::string err;
    std::uint64_t stop = wal.read(
        lock, Wal::kHeaderBytes, wal.end(),
        [&](std::uint64_t lsn, std::string_view p) { got.emplace_back(lsn, std::string(p)); },
        &err);
    EXPECT_EQ(stop, wal.end()) << err;
    if (error) *error = err;
    return got;
  }

  static Wal::Recovered recover(Wal& wal, std::uint64_t applied, std::string* error = nullptr) {
    auto lock = wal.lock(true);
    Wal::Recovered r;
    std::string err = wal.recover(lock, applied, &r);
    if (error)
      *error = err;
    else
      EXPECT_EQ(err, "");
    return r;
  }

  static std::vector<std::uint64_t> lsns(const Frames& frames) {
    std::vector<std::uint64_t> v;
    for (const auto& f : frames) v.push_back(f.first);
    return v;
  }

  // Appends lsns first..last, each with a payload of `bytes` bytes (one frame per append);
  // returns each frame's start offset.
  static std::vector<std::uint64_t> append_range(Wal& wal, std::uint64_t first, std::uint64_t last,
                                                 std::size_t bytes = 100) {
    std::vector<std::uint64_t> at;
    auto lock = wal.lock(true);
    for (std::uint64_t lsn = first; lsn <= last; ++lsn) {
      at.push_back(wal.end());
      EXPECT_EQ(wal.append(lock, lsn, payload(lsn, bytes)), 0);
    }
    return at;
  }

  // Bytes that do not compress (a generator seeded by lsn), so that frame sizes are exact.
  static std::string payload(std::uint64_t lsn, std::size_t bytes) {
    std::string s(bytes, '\0');
    std::uint64_t x = lsn * 0x9e3779b97f4a7c15ull + 1;
    for (std::size_t i = 0; i < bytes; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      s[i] = static_cast<char>(x >> 32);
    }
    return s;
  }
  // Bytes that do: a record of ops repeated (as a batch of similar steps is).
  static std::string compressible(std::uint64_t lsn, std::size_t bytes) {
    std::string s;
    while (s.size() < bytes)
      s += "{\"state\":\"rectifying\",\"lastNote\":\"checked " + std::to_string(lsn) +
           "\",\"updatedAt\":" + std::to_string(1700000000000 + s.size()) + "}";
    s.resize(bytes);
    return s;
  }
  static std::uint32_t header_version(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    char b[12] = {};
    in.read(b, sizeof b);
    std::uint32_t v;
    std::memcpy(&v, b + 8, 4);
    return v;
  }

  void overwrite(std::uint64_t at, const std::string& bytes, const char* file = "wal.log") {
    int fd = ::open((dir_ / file).c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(at)),
              static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }

  fs::path dir_;
};

TEST(Crc32c, TestVectorAndContinuation) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  std::string long_text(1000, 'x');
  for (std::size_t i = 0; i < long_text.size(); ++i) long_text[i] = static_cast<char>(i * 13);
  for (std::size_t cut : {0, 1, 7, 8, 9, 500, 999, 1000})
    EXPECT_EQ(crc32c(std::string_view(long_text).substr(cut),
                     crc32c(std::string_view(long_text).substr(0, cut))),
              crc32c(long_text))
        << cut;
}

// The instruction's CRC (where the CPU has it) equals the tables' on every length, start
// and seed: misaligned starts, the byte tail, continuation from any CRC.
TEST(Crc32c, TheInstructionAndTheTablesAgree) {
  EXPECT_EQ(crc32c_portable("123456789"), 0xE3069283u);
  std::mt19937_64 rng(5);
  std::string bytes(4200, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng());
  for (std::size_t start = 0; start < 9; ++start)
    for (std::size_t len : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 2560, 4096}) {
      const std::string_view part = std::string_view(bytes).substr(start, len);
      const auto seed = static_cast<std::uint32_t>(rng());
      ASSERT_EQ(crc32c(part), crc32c_portable(part)) << start << " " << len;
      ASSERT_EQ(crc32c(part, seed), crc32c_portable(part, seed)) << start << " " << len;
    }
}

std::vector<WalOp> sample_ops() {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  return {
      {Db::inst, true, "k1", "v1"},
      {Db::meta, true, "", ""},                                    // empty key and value
      {Db::hist, false, binary, ""},                               // delete, binary key
      {Db::attref, true, std::string(300, 'k'), binary + binary},  // 2-byte varints
      {Db::timers, false, "", ""},
  };
}

TEST(WalOps, RoundTrip) {
  std::string payload;
  encode_ops(sample_ops(), payload);
  std::vector<WalOp> back;
  std::string error;
  ASSERT_TRUE(decode_ops(payload, back, &error)) << error;
  EXPECT_EQ(back, sample_ops());
  std::vector<WalOp> none;
  EXPECT_TRUE(decode_ops("", none, &error));
  EXPECT_TRUE(none.empty());
}

TEST(WalOps, EveryPrefixAndRandomBytesFailCleanly) {
  std::string payload;
  encode_ops(sample_ops(), payload);
  std::size_t failures = 0;
  for (std::size_t n = 0; n < payload.size(); ++n) {
    std::vector<WalOp> out;
    std::string error;
    if (!decode_ops(payload.substr(0, n), out, &error)) {
      ++failures;
      EXPECT_NE(error.find("op "), std::string::npos) << error;
    }
  }
  EXPECT_GT(failures, payload.size() / 2);  // ends of whole ops decode; the rest fail
  std::vector<WalOp> out;
  std::string error;
  EXPECT_FALSE(decode_ops(payload.substr(0, payload.size() - 1), out, &error));
  EXPECT_EQ(error, "op 4 at byte 1092 of 1092: expected the key length (a varint)");
  out.clear();  // the last byte of op 3's value missing (op 4 is 3 bytes)
  EXPECT_FALSE(decode_ops(payload.substr(0, payload.size() - 4), out, &error));
  EXPECT_NE(error.find("op 3 at byte"), std::string::npos) << error;
  EXPECT_NE(error.find("the value length 512 runs past the end"), std::string::npos) << error;
  EXPECT_EQ(out.size(), 3u);
  EXPECT_FALSE(decode_ops(std::string("\x63\x01\x00", 3), out, &error));
  EXPECT_NE(error.find("database 99 is out of range"), std::string::npos) << error;
  EXPECT_FALSE(
      decode_ops(std::string("\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12), out, &error));
  EXPECT_NE(error.find("varint"), std::string::npos) << error;

  std::mt19937 rng(24);
  for (int i = 0; i < 1000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    std::vector<WalOp> o;
    std::string e;
    if (!decode_ops(junk, o, &e)) {
      EXPECT_FALSE(e.empty());
    }
  }
}

TEST_F(WalTest, NewFileIsPreallocatedAndEmpty) {
  auto wal = open();
  EXPECT_EQ(wal->path(), (dir_ / "wal.log").string());
  EXPECT_EQ(wal->end(), Wal::kHeaderBytes);
  EXPECT_EQ(wal->generation(), 0u);
  EXPECT_EQ(fs::file_size(dir_ / "wal.log"), kSegment);
  EXPECT_TRUE(read_all(*wal).empty());
  auto r = recover(*wal, 0);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(r.end, Wal::kHeaderBytes);
  EXPECT_EQ(r.last_lsn, 0u);
  std::set<std::string> files;  // no temporary left behind
  for (const auto& e : fs::directory_iterator(dir_)) files.insert(e.path().filename());
  EXPECT_EQ(files, (std::set<std::string>{"wal.log", "wal.shm"}));
  EXPECT_EQ(fs::file_size(dir_ / "wal.shm"), 4096u);
}

TEST_F(WalTest, AppendAndReadBackAcrossObjects) {
  auto wal = open();
  append_range(*wal, 1, 3, 10);
  EXPECT_EQ(wal->end(), Wal::kHeaderBytes + 3 * 512);  // 24 + 10 bytes: one sector each
  {
    auto lock = wal->lock(true);
    Frames group = {{4, std::string(600, 'a')}, {5, ""}, {6, payload(6, 5000)}};
    ASSERT_EQ(wal->append(lock, group), 0);
  }
  EXPECT_EQ(wal->end(), Wal::kHeaderBytes + 3 * 512 + 1024 + 512 + 5120);
  Frames got = read_all(*wal);
  ASSERT_EQ(lsns(got), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(got[0].second, payload(1, 10));
  EXPECT_EQ(got[3].second, std::string(600, 'a'));
  EXPECT_EQ(got[4].second, "");
  EXPECT_EQ(got[5].second, payload(6, 5000));

  // A second object (as another process): it sees the live fields through the mapping,
  // and the first sees what the second appends and resets.
  auto other = open();
  EXPECT_EQ(other->end(), wal->end());
  EXPECT_EQ(lsns(read_all(*other)), lsns(got));
  append_range(*other, 7, 7);
  EXPECT_EQ(wal->end(), other->end());
  EXPECT_EQ(lsns(read_all(*wal)).back(), 7u);
  {
    auto lock = other->lock(true);
    other->reset(lock);
  }
  EXPECT_EQ(wal->generation(), 1u);
  EXPECT_EQ(wal->end(), Wal::kHeaderBytes);

  // Reopened after both are gone.
  wal.reset();
  other.reset();
  auto again = open();
  EXPECT_EQ(again->generation(), 1u);
  append_range(*again, 8, 8);
  EXPECT_EQ(lsns(read_all(*again)), (std::vector<std::uint64_t>{8}));
}

TEST_F(WalTest, AppendNeedsThisLogsExclusiveLock) {
  auto wal = open();
  auto other = open();
  {
    auto shared = wal->lock(false);
    EXPECT_EQ(wal->append(shared, 1, "x"), EINVAL);
  }
  {
    auto foreign = other->lock(true);
    EXPECT_EQ(wal->append(foreign, 1, "x"), EINVAL);
    Wal::Recovered r;
    EXPECT_NE(wal->recover(foreign, 0, &r), "");
  }
  EXPECT_EQ(wal->end(), Wal::kHeaderBytes);
}

TEST_F(WalTest, RecoverReturnsFramesAboveApplied) {
  auto wal = open();
  append_range(*wal, 1, 5);
  auto r = recover(*wal, 2);
  EXPECT_EQ(lsns(r.frames), (std::vector<std::uint64_t>{3, 4, 5}));
  EXPECT_EQ(r.frames[0].second, payload(3, 100));
  EXPECT_EQ(r.end, wal->end());
  EXPECT_EQ(r.last_lsn, 5u);
  EXPECT_TRUE(recover(*wal, 5).frames.empty());
  EXPECT_EQ(recover(*wal, 5).last_lsn, 5u);
  EXPECT_TRUE(recover(*wal, 9).frames.empty());
  EXPECT_EQ(lsns(recover(*wal, 0).frames), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
}

TEST_F(WalTest, RecoverAdoptsTheChainEndWhenTheLiveEndIsStale) {
  auto wal = open();
  append_range(*wal, 1, 3);
  std::uint64_t chain_end = wal->end();
  // As after a crash whose header page is older or newer than the frames.
  std::string stale(8, '\0');
  std::uint64_t v = Wal::kHeaderBytes + 100 * 512;
  std::memcpy(stale.data(), &v, 8);
  overwrite(24, stale, "wal.shm");
  EXPECT_EQ(wal->end(), v);  // the mapping shows the file's page
  auto r = recover(*wal, 0);
  EXPECT_EQ(r.end, chain_end);
  EXPECT_EQ(wal->end(), chain_end);
  append_range(*wal, 4, 4);  // continues the chain
  EXPECT_EQ(recover(*wal, 0).last_lsn, 4u);
}

TEST_F(WalTest, AMissingOrForeignLiveFileIsMadeAgain) {
  {
    auto wal = open();
    append_range(*wal, 1, 3);
  }
  for (const char* what : {"missing", "foreign"}) {
    if (what == std::string("missing"))
      fs::remove(dir_ / "wal.shm");
    else
      overwrite(0, std::string(5000, 'x'), "wal.shm");
    auto wal = open();
    EXPECT_EQ(fs::file_size(dir_ / "wal.shm"), 4096u) << what;
    EXPECT_EQ(wal->end(), Wal::kHeaderBytes) << what;  // a hint: recover() finds the chain
    EXPECT_EQ(recover(*wal, 0).last_lsn, 3u) << what;
    EXPECT_EQ(wal->end(), Wal::kHeaderBytes + 3 * 512) << what;
  }
}

// Linux only, a figure the kernel keeps: the bytes this process had written to storage.
// Each small append dirties one 4 KiB page of wal.log, not a large folio and
// not a header page (see "Space" in wal.hpp). On tmpfs nothing is counted and this holds.
TEST_F(WalTest, AnAppendFlushesAboutOnePage) {
  auto written = [] {
    std::ifstream io("/proc/self/io");
    std::string key;
    std::uint64_t value = 0;
    while (io >> key >> value)
      if (key == "write_bytes:") return value;
    return std::uint64_t{0};
  };
  auto wal = open();
  if (!fs::exists("/proc/self/io")) GTEST_SKIP() << "no /proc/self/io";
  const std::uint64_t before = written();
  append_range(*wal, 1, 64, 300);             // 512 bytes a frame: never across a page
  EXPECT_LE(written() - before, 64 * 6144u);  // 1.5 pages: a header page in wal.log fails
}

// Appends of up to 64 KiB go O_DIRECT, larger ones and BIHUAN_WAL_BUFFERED's through the
// page cache; mixed on one file, in any order, every reader sees every frame whole, also
// a reader that had the page a direct append then wrote in its cache.
TEST_F(WalTest, DirectAndBufferedAppendsMixOnOneFile) {
  ::setenv("BIHUAN_WAL_BUFFERED", "1", 1);
  auto buffered = open();
  ::unsetenv("BIHUAN_WAL_BUFFERED");
  auto direct = open();
  append_range(*buffered, 1, 3, 300);  // three sectors of the first page
  EXPECT_EQ(lsns(read_all(*direct)), (std::vector<std::uint64_t>{1, 2, 3}));
  append_range(*direct, 4, 5, 300);    // into the page both have read
  append_range(*direct, 6, 6, 70000);  // over 64 KiB: buffered
  append_range(*direct, 7, 7, 5000);   // direct again, after a buffered append
  append_range(*buffered, 8, 8, 300);
  append_range(*direct, 9, 9, 300);
  for (Wal* w : {buffered.get(), direct.get()}) {
    Frames got = read_all(*w);
    ASSERT_EQ(lsns(got), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
    for (const auto& [lsn, p] : got)
      EXPECT_EQ(p, payload(lsn, lsn == 6 ? 70000 : lsn == 7 ? 5000 : 300)) << lsn;
  }
  buffered.reset();
  direct.reset();
  auto again = open();
  EXPECT_EQ(recover(*again, 0).last_lsn, 9u);
}

// Where the file system takes O_DIRECT (ext4, xfs; not tmpfs).
bool direct_io_works(const fs::path& dir) {
  const fs::path probe = dir / "direct-probe";
  int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_DIRECT, 0600);
  if (fd >= 0) ::close(fd);
  fs::remove(probe);
  return fd >= 0;
}

// A lone step's append (poll): written and flushed as one request, end() moved only by
// append_finish; mixed with ordinary and group appends on the same file, every reader and
// recovery see every frame. An append started and dropped with its lock leaves no frame:
// the next one writes over it.
TEST_F(WalTest, PolledAppendsAreOneRequestAndMixWithTheOthers) {
  auto wal = open();
  {
    auto lock = wal->lock(true);
    const std::uint64_t end = wal->end();
    ASSERT_EQ(wal->append_start(lock, 1, payload(1, 2000), true), 0);
    EXPECT_EQ(wal->append_start(lock, 2, payload(2, 10), true), EBUSY);  // one in flight
    EXPECT_EQ(wal->end(), end);  // not yet durable: readers do not see it
    ASSERT_EQ(wal->append_finish(lock), 0);
    EXPECT_EQ(wal->end(), end + 2048);
    EXPECT_EQ(wal->append_finish(lock), EINVAL);  // nothing left to finish
    ASSERT_EQ(wal->append(lock, 2, payload(2, 300)), 0);
    ASSERT_EQ(wal->append(lock, Frames{{3, payload(3, 100)}, {4, payload(4, 70000)}}), 0);
    ASSERT_EQ(wal->append_start(lock, 5, payload(5, 5000), true), 0);
    ASSERT_EQ(wal->append_finish(lock), 0);
    ASSERT_EQ(wal->append_start(lock, 6, payload(6, 70000), true), 0);  // large: ordinary
    ASSERT_EQ(wal->append_finish(lock), 0);
    // Not finished: dropped when the lock goes.
    ASSERT_EQ(wal->append_start(lock, 7, payload(99, 3000), true), 0);
  }
  if (direct_io_works(dir_)) {
    EXPECT_EQ(wal->one_request_appends(), 2u);  // lsns 1 and 5 (7 was dropped unfinished)
  }
  {
    auto lock = wal->lock(true);
    ASSERT_EQ(wal->append_start(lock, 7, payload(7, 100), false), 0);  // over the dropped one
    ASSERT_EQ(wal->append_finish(lock), 0);
  }
  const std::vector<std::size_t> sizes = {0, 2000, 300, 100, 70000, 5000, 70000, 100};
  Frames got = read_all(*wal);
  ASSERT_EQ(lsns(got), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7}));
  for (const auto& [lsn, p] : got) EXPECT_EQ(p, payload(lsn, sizes[lsn])) << lsn;
  wal.reset();
  auto again = open();
  Wal::Recovered r = recover(*again, 0);
  EXPECT_EQ(r.last_lsn, 7u);
  EXPECT_EQ(r.frames.size(), 7u);
}

TEST(DsyncWrite, OneWriteAtATimeRefusedWritesFailAndAWriteInFlightLandsWhole) {
  std::random_device rd;
  const fs::path dir = fs::temp_directory_path() / ("bihuan-dsync-" + std::to_string(rd()));
  fs::create_directories(dir);
  if (!direct_io_works(dir)) {
    fs::remove_all(dir);
    GTEST_SKIP() << dir << " does not take O_DIRECT";
  }
  const fs::path file = dir / "f";
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_DIRECT, 0600);
  ASSERT_GE(fd, 0);
  auto* buf = static_cast<char*>(std::aligned_alloc(4096, 8192));
  std::memset(buf, 'a', 4096);
  std::memset(buf + 4096, 'b', 4096);
  auto w = DsyncWrite::make();
  if (!w) {  // io_setup refused (a sandbox's seccomp, aio-max-nr reached): the log falls back
    ::close(fd);
    std::free(buf);
    fs::remove_all(dir);
    GTEST_SKIP() << "this kernel gives no AIO context";
  }
  ASSERT_EQ(w->start(fd, buf, 4096, 0), 0);
  EXPECT_TRUE(w->busy());
  EXPECT_EQ(w->start(fd, buf, 4096, 4096), EBUSY);
  EXPECT_EQ(w->wait(std::chrono::microseconds(2000)), 4096);
  EXPECT_FALSE(w->busy());
  EXPECT_EQ(w->wait(std::chrono::microseconds(0)), -EINVAL);  // nothing in flight
  // A write the device refuses (not aligned to a sector): an error, at the start or at
  // the end, never a hang.
  if (int rc = w->start(fd, buf + 1, 100, 4096); rc == 0) {
    EXPECT_LT(w->wait(std::chrono::microseconds(0)), 0);
  } else {
    EXPECT_EQ(rc, EINVAL);
  }
  ASSERT_EQ(w->start(fd, buf + 4096, 4096, 4096), 0);
  w.reset();  // waits for it
  std::free(buf);
  ::close(fd);
  std::ifstream in(file, std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, std::string(4096, 'a') + std::string(4096, 'b'));
  fs::remove_all(dir);
}

// Version 2: a payload of 4 KiB or more is stored compressed when that saves a sector;
// every reader (another object, recovery) gets the payload back as it was given.
TEST_F(WalTest, LargeCompressibleFramesAreStoredCompressed) {
  auto wal = open();
  EXPECT_EQ(wal->version(), 2u);
  EXPECT_EQ(header_version(dir_ / "wal.log"), 2u);
  const std::string big = compressible(1, 200000), small = compressible(2, 4000),
                    edge = compressible(3, Wal::kCompressFromBytes), noise = payload(4, 9000);
  {
    auto lock = wal->lock(true);
    ASSERT_EQ(wal->append(lock, Frames{{1, big}, {2, small}, {3, edge}, {4, noise}}), 0);
  }
  // 200,000 bytes in a few sectors; 4,000 (below the threshold) plain: 8 sectors; 4,096
  // compressed: 1 sector; 9,000 bytes of noise do not compress: plain, 18 sectors.
  const std::uint64_t used = wal->end() - Wal::kHeaderBytes;
  EXPECT_LT(used, 8 * 512 + 512 + 18 * 512 + 20 * 512) << used;
  EXPECT_GT(used, 8 * 512 + 512 + 18 * 512) << used;
  append_range(*wal, 5, 5, 300);
  auto other = open();
  for (Wal* w : {wal.get(), other.get()}) {
    Frames got = read_all(*w);
    ASSERT_EQ(lsns(got), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(got[0].second, big);
    EXPECT_EQ(got[1].second, small);
    EXPECT_EQ(got[2].second, edge);
    EXPECT_EQ(got[3].second, noise);
    EXPECT_EQ(got[4].second, payload(5, 300));
  }
  wal.reset();
  other.reset();
  auto again = open();
  auto r = recover(*again, 2);
  ASSERT_EQ(lsns(r.frames), (std::vector<std::uint64_t>{3, 4, 5}));
  EXPECT_EQ(r.frames[0].second, edge);
  EXPECT_EQ(r.frames[1].second, noise);
}

// A log of version 1 (before compression) opens; its frames stay plain until a reset (no
// frame in the log) rewrites the header as version 2, synced; then frames compress.
TEST_F(WalTest, AVersion1LogIsUpgradedAtItsNextReset) {
  open().reset();
  std::string header(12, '\0');
  std::memcpy(header.data(), "BIHUANWL", 8);
  header[8] = 1;
  overwrite(0, header);
  auto wal = open();
  ASSERT_EQ(wal->version(), 1u);
  const std::string big = compressible(1, 100000);
  {
    auto lock = wal->lock(true);
    ASSERT_EQ(wal->append(lock, 1, big), 0);
  }
  EXPECT_EQ(wal->end(), Wal::kHeaderBytes + (24 + 100000 + 511) / 512 * 512);  // plain
  EXPECT_EQ(read_all(*wal)[0].second, big);
  auto old_reader = open();  // opened before the upgrade: reads either kind
  EXPECT_EQ(old_reader->version(), 1u);
  {
    auto lock = wal->lock(true);
    wal->reset(lock);
    EXPECT_EQ(wal->version(), 2u);
    EXPECT_EQ(header_version(dir_ / "wal.log"), 2u);
    ASSERT_EQ(wal->append(lock, 2, big), 0);
  }
  EXPECT_LT(wal->end(), Wal::kHeaderBytes + 10 * 512);  // compressed
  Frames got = read_all(*old_reader);
  ASSERT_EQ(lsns(got), (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(got[0].second, big);
  EXPECT_EQ(open()->version(), 2u);
}

// A compressed frame whose crc holds was written whole: if it does not decompress, that is
// damage, and recovery refuses (it must not take it for the torn tail and drop the frames
// after it); a read stops there with the reason.
TEST_F(WalTest, ACompressedFrameThatDoesNotDecompressIsDamage) {
  auto wal = open();
  {
    auto lock = wal->lock(true);
    ASSERT_EQ(wal->append(lock, 1, compressible(1, 50000)), 0);
  }
  const std::uint64_t second = wal->end();
  append_range(*wal, 2, 2, 300);
  // Spoil the zstd frame's magic and give the frame a crc that matches its new bytes.
  std::string frame(second - Wal::kHeaderBytes, '\0');
  {
    std::ifstream in(dir_ / "wal.log", std::ios::binary);
    in.seekg(Wal::kHeaderBytes);
    in.read(frame.data(), static_cast<std::streamsize>(frame.size()));
  }
  std::uint32_t length;
  std::memcpy(&length, frame.data() + 4, 4);
  // The zstd frame's magic, then (with the magic restored) a byte of its content.
  for (std::size_t spoil : {std::size_t{24}, std::size_t{24 + length / 2}}) {
    std::string bad = frame;
    bad[spoil] ^= 0x55;
    std::uint32_t c = crc32c(std::string_view(bad.data() + 8, 8));
    c = crc32c(std::string_view(bad.data() + 4, 4), c);
    c = crc32c(std::string_view(bad.data() + 20, 4), c);
    c = crc32c(std::string_view(bad.data() + 24, length), c);
    std::memcpy(bad.data() + 16, &c, 4);
    overwrite(Wal::kHeaderBytes, bad);

    std::string error;
    recover(*wal, 0, &error);
    EXPECT_NE(error.find("at offset 4096: the compressed payload does not decompress"),
              std::string::npos)
        << spoil << ": " << error;
    auto lock = wal->lock(false);
    EXPECT_EQ(wal->read(
                  lock, Wal::kHeaderBytes, wal->end(), [](auto, auto) {}, &error),
              Wal::kHeaderBytes);
    EXPECT_NE(error.find("does not decompress"), std::string::npos) << spoil << ": " << error;
  }
}

TEST_F(WalTest, TornAndCorruptTailsEndTheChain) {
  auto wal = open();
  auto at = append_range(*wal, 1, 4, 1500);  // 1524 bytes: 3 sectors each
  const std::uint64_t last = at.back(), end = wal->end();

  // Garbage after the last frame.
  overwrite(end, std::string(2000, '\x5a'));
  auto r = recover(*wal, 0);
  EXPECT_EQ(lsns(r.frames), (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(r.end, end);

  // A half frame: the second half of frame 4 is zeros.
  overwrite(last + 768, std::string(end - last - 768, '\0'));
  r = recover(*wal, 0);
  EXPECT_EQ(lsns(r.frames), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(r.end, last);
  EXPECT_EQ(wal->end(), last);

  // A flipped byte in frame 3's payload.
  overwrite(at[2] + 24 + 700, std::string(1, '\x01'));
  r = recover(*wal, 1);
  EXPECT_EQ(lsns(r.frames), (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(r.end, at[2]);
  EXPECT_EQ(r.last_lsn, 2u);

  // read() up to a stale end reports the corruption with the file and the offset.
  std::string error;
  auto lock = wal->lock(false);
  std::uint64_t stop = wal->read(
      lock, Wal::kHeaderBytes, end, [](std::uint64_t, std::string_view) {}, &error);
  EXPECT_EQ(stop, at[2]);
  EXPECT_NE(error.find("wal.log: at offset " + std::to_string(at[2]) + ": crc mismatch"),
            std::string::npos)
      << error;
}

TEST_F(WalTest, ReadStopsAtABadMagicAndAtALengthPastTo) {
  auto wal = open();
  auto at = append_range(*wal, 1, 3);
  auto lock = wal->lock(false);
  std::string error;
  std::uint64_t stop = wal->read(
      lock, at[1], wal->end() - 1, [](std::uint64_t, std::string_view) {}, &error);
  EXPECT_EQ(stop, at[2]);
  EXPECT_NE(error.find("runs past offset"), std::string::npos) << error;
  error.clear();
  stop = wal->read(
      lock, wal->end(), wal->end() + 512, [](std::uint64_t, std::string_view) {}, &error);
  EXPECT_EQ(stop, wal->end());
  EXPECT_NE(error.find("expected the frame magic 0x42484652 or 0x42484643, found 0x00000000"),
            std::string::npos)
      << error;
}

TEST_F(WalTest, AGapIsAnError) {
  auto wal = open();
  append_range(*wal, 7, 8);
  std::string error;
  auto r = recover(*wal, 3, &error);
  EXPECT_NE(error.find("wal.log: at offset 4096"), std::string::npos) << error;
  EXPECT_NE(error.find("lsn 7"), std::string::npos) << error;
  EXPECT_NE(error.find("applied lsn is 3"), std::string::npos) << error;
  EXPECT_EQ(lsns(recover(*wal, 6).frames), (std::vector<std::uint64_t>{7, 8}));
}

TEST_F(WalTest, StaleFramesAfterAResetAreNotRecovered) {
  auto wal = open();
  append_range(*wal, 1, 5);  // same size each: frame 3 starts where the new chain 6, 7 ends
  {
    auto lock = wal->lock(true);
    wal->reset(lock);
  }
  EXPECT_EQ(wal->generation(), 1u);
  EXPECT_EQ(wal->end(), Wal::kHeaderBytes);
  EXPECT_EQ(recover(*wal, 5).frames.size(), 0u);  // the stale chain: nothing above applied
  {
    auto lock = wal->lock(true);
    wal->reset(lock);
  }
  append_range(*wal, 6, 7);
  auto r = recover(*wal, 5);
  EXPECT_EQ(lsns(r.frames), (std::vector<std::uint64_t>{6, 7}));
  EXPECT_EQ(r.end, Wal::kHeaderBytes + 2 * 512);
  EXPECT_EQ(r.last_lsn, 7u);
}

TEST_F(WalTest, AStaleFrameWithTheNextLsnAfterATornGroupWriteIsNotRecovered) {
  auto wal = open();
  append_range(*wal, 1, 2);
  const std::uint64_t at = wal->end();
  {
    auto lock = wal->lock(true);
    ASSERT_EQ(wal->append(lock, Frames{{3, payload(3, 100)}, {4, payload(4, 100)}}), 0);
  }
  overwrite(at + 100, std::string(1, '\x7f'));  // frame 3 torn, frame 4 whole
  auto r = recover(*wal, 0);
  ASSERT_EQ(lsns(r.frames), (std::vector<std::uint64_t>{1, 2}));
  {  // a different frame 3, the same size: the stale frame 4 follows it with lsn 4
    auto lock = wal->lock(true);
    ASSERT_EQ(wal->append(lock, 3, payload(33, 100)), 0);
  }
  EXPECT_EQ(lsns(recover(*wal, 0).frames), (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST_F(WalTest, GrowsInSegments) {
  auto wal = open();
  const std::size_t bytes = 100000;  // 100,352 bytes a frame: 11 frames pass a segment
  Frames sent;
  for (std::uint64_t lsn = 1; lsn <= 25; ++lsn) sent.emplace_back(lsn, payload(lsn, bytes));
  {
    auto lock = wal->lock(true);
    for (std::size_t i = 0; i < 20; ++i)
      ASSERT_EQ(wal->append(lock, sent[i].first, sent[i].second), 0);
    ASSERT_EQ(wal->append(lock, Frames(sent.begin() + 20, sent.end())), 0);  // one group
  }
  EXPECT_GT(wal->end(), 2 * kSegment);
  EXPECT_EQ(fs::file_size(dir_ / "wal.log") % kSegment, 0u);
  EXPECT_GE(fs::file_size(dir_ / "wal.log"), wal->end());
  EXPECT_EQ(read_all(*wal), sent);
  EXPECT_EQ(recover(*wal, 0).frames, sent);
}

TEST_F(WalTest, ExclusiveLocksExcludeAcrossObjectsSharedOnesCoexist) {
  auto a = open();
  auto b = open();
  std::atomic<bool> got{false};
  {
    auto held = a->lock(true);
    std::thread t([&] {
      auto lock = b->lock(true);
      got = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_FALSE(got.load());
    { auto gone = std::move(held); }  // released here
    for (int i = 0; i < 2000 && !got; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_TRUE(got.load());
    t.join();
  }
  // Shared on both objects and on two threads of one: all at once; an exclusive waits.
  auto s1 = a->lock(false);
  auto s2 = b->lock(false);
  std::atomic<bool> shared_too{false}, exclusive{false};
  std::thread t1([&] {
    auto lock = a->lock(false);
    shared_too = true;
  });
  t1.join();
  EXPECT_TRUE(shared_too.load());
  std::thread t2([&] {
    auto lock = b->lock(true);
    exclusive = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(exclusive.load());
  { auto gone = std::move(s2); }
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(exclusive.load());  // a's shared file lock still holds it off
  { auto gone = std::move(s1); }
  for (int i = 0; i < 2000 && !exclusive; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(exclusive.load());
  t2.join();
}

// Readers on several threads and on a second object (another process) read whole frames
// in order while appends go on: what end() says under the lock is always whole frames.
TEST_F(WalTest, ReadersUnderTheSharedLockSeeWholeFramesWhileAppendsGoOn) {
  auto wal = open();
  auto other = open();
  constexpr std::uint64_t kFrames = 40;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, reads{0};
  auto reader = [&](Wal* w) {
    while (!done) {
      auto lock = w->lock(false);
      std::uint64_t expect = 1;
      std::string error;
      std::uint64_t end = w->end();
      std::uint64_t stop = w->read(
          lock, Wal::kHeaderBytes, end,
          [&](std::uint64_t lsn, std::string_view p) {
            if (lsn != expect++ || p != payload(lsn, 100 + lsn * 37)) ++bad;
          },
          &error);
      if (stop != end || !error.empty()) ++bad;
      ++reads;
    }
  };
  std::vector<std::thread> threads;
  for (Wal* w : {wal.get(), wal.get(), other.get()}) threads.emplace_back(reader, w);
  for (std::uint64_t lsn = 1; lsn <= kFrames; ++lsn) {
    auto lock = (lsn % 2 ? wal : other)->lock(true);
    ASSERT_EQ((lsn % 2 ? wal : other)->append(lock, lsn, payload(lsn, 100 + lsn * 37)), 0);
  }
  done = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(recover(*other, 0).last_lsn, kFrames);
}

TEST_F(WalTest, AForeignFileIsRefused) {
  {
    int fd = ::open((dir_ / "wal.log").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
    ASSERT_GE(fd, 0);
    std::string junk(8192, 'j');
    ASSERT_EQ(::write(fd, junk.data(), junk.size()), 8192);
    ::close(fd);
  }
  std::string error;
  EXPECT_FALSE(Wal::open(dir_.string(), &error, kSegment));
  EXPECT_NE(error.find((dir_ / "wal.log").string() + ": at offset 0: expected the magic"),
            std::string::npos)
      << error;

  std::string header(16, '\0');
  std::memcpy(header.data(), "BIHUANWL", 8);
  header[8] = 3;
  overwrite(0, header);
  EXPECT_FALSE(Wal::open(dir_.string(), &error, kSegment));
  EXPECT_NE(error.find("at offset 8: format version 3 is unknown (expected version 1 or 2)"),
            std::string::npos)
      << error;

  fs::resize_file(dir_ / "wal.log", 100);
  EXPECT_FALSE(Wal::open(dir_.string(), &error, kSegment));
  EXPECT_NE(error.find("expected a header page of 4096 bytes, the file has 100"), std::string::npos)
      << error;
  EXPECT_FALSE(Wal::open((dir_ / "absent").string(), &error, kSegment));
  EXPECT_NE(error.find("absent/wal.log"), std::string::npos) << error;
}

}  // namespace
}  // namespace bihuan::storage
