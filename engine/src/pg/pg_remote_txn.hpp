// PgRemote's transactions and cursors (pg_remote.hpp has the contract). Internal to
// engine/src/pg/.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pg/pg_pool.hpp"
#include "storage/remote.hpp"

namespace bihuan::pg {

class PgRemoteTxn final : public storage::RemoteTxn {
 public:
  // `conn` has this transaction open (begun by PgRemote::begin); given back to `home` (the
  // pool, or the turn) when this ends.
  // `inst_json` (may be null or empty): the projection of puts into inst.
  PgRemoteTxn(ConnHome& home, std::unique_ptr<Conn> conn, bool write, std::size_t page_rows,
              const storage::Projection* inst_json = nullptr)
      : lease_(home, std::move(conn)),
        write_(write),
        page_rows_(page_rows),
        inst_json_(inst_json) {}
  ~PgRemoteTxn() override;

  bool get(storage::Db db, std::string_view key, std::string* value, std::string* error) override;
  std::unique_ptr<storage::RemoteCursor> cursor(storage::Db db) override;
  std::optional<std::uint64_t> count(storage::Db db, std::string* error) override;
  bool put(storage::Db db, std::string_view key, std::string_view value,
           std::string* error) override;
  bool del(storage::Db db, std::string_view key, std::string* error) override;
  bool commit(std::string* error, bool* unknown) override;
  bool renew(std::string* error) override;

  // For cursors.
  Conn& conn() { return *lease_; }
  std::size_t page_rows() const { return page_rows_; }
  std::uint64_t writes() const { return writes_; }  // puts and dels so far
  // "" while usable; else why not (it ended).
  std::string unusable() const;

 private:
  // Refusals of a put or del before anything is sent: "" or the sentence.
  std::string refuse_write(const char* verb, storage::Db db, std::string_view key,
                           std::size_t value_bytes) const;
  Lease lease_;
  bool write_;
  std::size_t page_rows_;
  const storage::Projection* inst_json_;
  std::uint64_t writes_ = 0;
  bool ended_ = false;
  std::string ended_why_;  // "committed", "renew failed: ..."
};

class PgRemoteCursor final : public storage::RemoteCursor {
 public:
  PgRemoteCursor(PgRemoteTxn& txn, storage::Db db) : txn_(txn), db_(db) {}
  bool seek(std::string_view key) override;
  bool last() override;
  bool next() override;
  std::string_view key() const override;
  std::string_view value() const override;
  const std::string& error() const override { return error_; }

 private:
  // Loads a page: rows from (or after, unless `inclusive`) `from`, or from the start when
  // nullopt; or the last row when `last_row`. The page it replaces is kept (prev_).
  bool load(std::optional<std::string_view> from, bool inclusive, bool last_row = false);
  PgRemoteTxn& txn_;
  storage::Db db_;
  Result page_, prev_;
  int at_ = 0;
  bool on_ = false;
  bool more_ = false;       // rows may follow page_ (it was full)
  std::uint64_t seen_ = 0;  // txn_.writes() when page_ was read
  std::string error_;
};

}  // namespace bihuan::pg
