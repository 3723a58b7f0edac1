// A store the engine cannot read answers 503 storage-unavailable, never 404 or a short
// list, and a fatal storage error turns /readyz false (issue 19).
#include <fcntl.h>
#include <unistd.h>

#include "server_fixture.hpp"

namespace bihuan::test {
namespace {

// Clears the flags of every leaf page of data.mdb: LMDB answers MDB_CORRUPTED for any
// search that reaches one (what a damaged disk block leaves).
int damage_leaf_pages(const std::string& dir) {
  int fd = ::open((std::filesystem::path(dir) / "data.mdb").c_str(), O_RDWR);
  if (fd < 0) return -1;
  const off_t page = 4096;
  off_t size = lseek(fd, 0, SEEK_END);
  int n = 0;
  for (off_t at = 2 * page; at + page <= size; at += page) {
    std::uint16_t flags = 0;
    if (pread(fd, &flags, 2, at + 10) != 2) break;
    if ((flags & 0x07) != 0x02) continue;
    std::uint16_t none = 0;
    if (pwrite(fd, &none, 2, at + 10) == 2) ++n;
  }
  ::close(fd);
  return n;
}

TEST_F(ServerTest, UnreadableStoreAnswers503NotNotFoundAndReadinessTurnsFalse) {
  serve();
  HttpClient c(port_, "admin-token");
  std::string id = start_counter(c);
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(c.get("/readyz").status, 200);
  ASSERT_GT(damage_leaf_pages(dir_ + "/data"), 0);

  for (const std::string path : {"/v1/instances/" + id, "/v1/instances/" + id + "/history", std::string("/v1/instances"),
                                 std::string("/v1/inbox"), std::string("/v1/stats")}) {
    auto r = c.get(path);
    EXPECT_EQ(r.status, 503) << path << ": " << r.body;
    EXPECT_EQ(r.json_body().value("type", ""), "https://bihuan.dev/problems/storage-unavailable") << path << ": " << r.body;
    EXPECT_FALSE(r.header("Retry-After").empty()) << path;
  }
  // The engine stopped (fail-stop): not ready, naming the data file; writes refused.
  auto ready = c.get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("data.mdb"), std::string::npos) << ready.body;
  auto bumped = c.post("/v1/instances/" + id + "/events", {{"event", "bump"}});
  EXPECT_EQ(bumped.status, 503) << bumped.body;
  EXPECT_NE(c.get("/metrics").body.find("bihuan_engine_failed 1"), std::string::npos);
}

}  // namespace
}  // namespace bihuan::test
