// A store the engine cannot read answers 503 storage-unavailable, never 404 or a short
// list, and a fatal storage error turns /readyz false (issue 19).
#include <fcntl.h>
#include <unistd.h>

#include "server_fixture.hpp"

namespace bihuan::test {
namespace {

// Points the main database's root, in both meta pages of data.mdb, past the end of the
// file (what a damaged disk block leaves): every search of a named database then fails
// with MDB_PAGE_NOTFOUND, a fatal code. Returns how many meta pages it changed.
int damage_main_root(const std::string& dir) {
  int fd = ::open((std::filesystem::path(dir) / "data.mdb").c_str(), O_RDWR);
  if (fd < 0) return -1;
  // Meta page: page header (16 bytes), magic, version, address, map size, then two MDB_db
  // of 48 bytes (free pages, main); md_root is the last 8 bytes of an MDB_db.
  const off_t page = 4096, root_at = 16 + 4 + 4 + 8 + 8 + 48 + 40;
  int n = 0;
  for (off_t meta = 0; meta < 2; ++meta) {
    std::uint64_t root = 0, far = std::uint64_t{1} << 40;
    if (pread(fd, &root, 8, meta * page + root_at) != 8 || root == 0 ||
        root > (std::uint64_t{1} << 32))
      continue;
    if (pwrite(fd, &far, 8, meta * page + root_at) == 8) ++n;
  }
  ::close(fd);
  return n;
}

TEST_F(ServerTest, UnreadableStoreAnswers503NotNotFoundAndReadinessTurnsFalse) {
  SKIP_ON_PG("it makes data.mdb unreadable");
  serve();
  HttpClient c(port_, "admin-token");
  std::string id = start_counter(c);
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(c.get("/readyz").status, 200);
  ASSERT_EQ(engine_->checkpoint(), "");  // the step in the B-tree, not only in the log
  ASSERT_GT(damage_main_root(dir_ + "/data"), 0);

  for (const std::string& path :
       {"/v1/instances/" + id, "/v1/instances/" + id + "/history", std::string("/v1/instances"),
        std::string("/v1/inbox"), std::string("/v1/stats")}) {
    auto r = c.get(path);
    EXPECT_EQ(r.status, 503) << path << ": " << r.body;
    EXPECT_EQ(r.json_body().value("type", ""), "https://bihuan.dev/problems/storage-unavailable")
        << path << ": " << r.body;
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
