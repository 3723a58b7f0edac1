#include "runtime/store.hpp"

namespace bihuan::runtime {

using storage::Db;

namespace {

std::string ordered_key(Db db, std::string_view key) {
  std::string k;
  k.reserve(key.size() + 1);
  k += static_cast<char>(db);
  k += key;
  return k;
}

}  // namespace

const Overlay::Value* Overlay::find(Db db, std::string_view key) const {
  if (ordered(db)) {
    if (ordered_.empty()) return nullptr;
    auto it = ordered_.find(ordered_key(db, key));
    return it == ordered_.end() ? nullptr : &it->second.value;
  }
  auto d = static_cast<std::size_t>(db);
  for (int g : {cur_, 1 - cur_}) {
    const Point& m = gen_[g][d];
    if (m.empty()) continue;
    if (auto it = m.find(key); it != m.end()) return &it->second;
  }
  if (keep_ && !cache_[d].empty())
    if (auto it = cache_[d].find(key); it != cache_[d].end()) return &it->second;
  return nullptr;
}

const Overlay::Value* Overlay::remember(Db db, std::string_view key, Value value) {
  Point& m = cache_[static_cast<std::size_t>(db)];
  auto [it, added] = m.try_emplace(std::string(key), std::move(value));
  if (added) cached_ += key.size() + (it->second ? it->second->size() : 0);
  return &it->second;
}

void Overlay::set(Db db, std::string_view key, Value value, std::uint64_t batch) {
  if (ordered(db)) {
    auto& e = ordered_[ordered_key(db, key)];
    e.value = std::move(value);
    e.batch = batch;
    return;
  }
  Point& m = gen_[cur_][static_cast<std::size_t>(db)];
  if (auto it = m.find(key); it != m.end())
    it->second = std::move(value);
  else
    m.emplace(std::string(key), std::move(value));
}

void Overlay::rotate(std::uint64_t batch) {
  cur_ = 1 - cur_;
  if (keep_) {
    // Batch - 2 has committed: its writes are the store's now.
    if (cached_ > kCacheBytes) {
      for (auto& m : cache_) m.clear();
      cached_ = 0;
    }
    for (std::size_t d = 0; d < kDbs; ++d)
      for (auto& [k, v] : gen_[cur_][d]) {
        cached_ += k.size() + (v ? v->size() : 0);
        cache_[d].insert_or_assign(k, std::move(v));
      }
  }
  for (auto& m : gen_[cur_]) m.clear();
  for (auto it = ordered_.begin(); it != ordered_.end();)
    it = it->second.batch + 1 < batch ? ordered_.erase(it) : std::next(it);
}

void Overlay::clear() {
  for (auto& g : gen_)
    for (auto& m : g) m.clear();
  ordered_.clear();
  for (auto& m : cache_) m.clear();
  cached_ = 0;
}

StoreCursor::StoreCursor(std::unique_ptr<storage::Cursor> base, const Overlay* overlay, Db db)
    : base_(std::move(base)), overlay_(overlay), prefix_(1, static_cast<char>(db)) {}

bool StoreCursor::seek(std::string_view key) {
  base_ok_ = base_->seek(key);
  if (overlay_) it_ = overlay_->ordered_map().lower_bound(prefix_ + std::string(key));
  return settle();
}

bool StoreCursor::next() {
  if (from_base_) base_ok_ = base_->next();
  if (from_overlay_) ++it_;
  return settle();
}

bool StoreCursor::settle() {
  from_base_ = from_overlay_ = false;
  while (true) {
    if (base_->status()) return false;  // the snapshot failed: no key is known to be next
    bool ov = overlay_ && it_ != overlay_->ordered_map().end() && it_->first[0] == prefix_[0];
    if (!base_ok_ && !ov) return false;
    std::string_view ov_key = ov ? std::string_view(it_->first).substr(1) : std::string_view();
    int order = !ov ? -1 : !base_ok_ ? 1 : base_->key().compare(ov_key);
    if (order < 0) {  // only in the snapshot: unchanged
      from_base_ = true;
      key_ = base_->key();
      value_ = base_->value();
      return true;
    }
    // The overlay decides for its key; an equal snapshot key is skipped with it.
    if (!it_->second.value) {
      if (order == 0) base_ok_ = base_->next();
      ++it_;
      continue;
    }
    from_overlay_ = true;
    from_base_ = order == 0;
    key_ = ov_key;
    value_ = *it_->second.value;
    return true;
  }
}

std::optional<std::string_view> Store::get(Db db, std::string_view key, int& rc) {
  if (overlay_) {
    if (const auto* v = overlay_->find(db, key)) {
      rc = 0;
      if (!*v) return std::nullopt;
      return std::string_view(**v);
    }
    if (overlay_->keeps() && db != Db::hist && !Overlay::ordered(db)) {
      auto v = txn_.get(db, key, rc);
      if (rc) return std::nullopt;
      const auto* kept = overlay_->remember(db, key, v ? Overlay::Value(*v) : std::nullopt);
      return *kept ? std::optional<std::string_view>(**kept) : std::nullopt;
    }
  }
  return txn_.get(db, key, rc);
}

void Store::note_timer_put(Db db, std::string_view key) {
  if (db == Db::timers && (!timer_put_ || key < lowest_timer_put_)) {
    lowest_timer_put_.assign(key);
    timer_put_ = true;
  }
}

std::optional<std::string> Store::take_lowest_timer_put() {
  if (!timer_put_) return std::nullopt;
  timer_put_ = false;
  return std::move(lowest_timer_put_);
}

int Store::put(Db db, std::string_view key, std::string_view value, bool append) {
  if (!overlay_) {
    ++writes_;
    note_timer_put(db, key);
    return txn_.put(db, key, value, append);
  }
  return put_owned(db, std::string(key), std::string(value), append);
}

int Store::put_owned(Db db, std::string&& key, std::string&& value, bool append) {
  ++writes_;
  note_timer_put(db, key);
  if (!overlay_) return txn_.put(db, key, value, append);
  // History is append-only and never read by a step: only the committer needs it.
  if (db != Db::hist) overlay_->set(db, key, value, batch_);
  log_->push_back(Op{db, true, append, std::move(key), std::move(value)});
  return 0;
}

int Store::del(Db db, std::string_view key) {
  ++writes_;
  if (!overlay_) return txn_.del(db, key);
  overlay_->set(db, key, std::nullopt, batch_);
  log_->push_back(Op{db, false, false, std::string(key), {}});
  return 0;
}

std::unique_ptr<StoreCursor> Store::cursor(Db db) {
  auto base = txn_.cursor(db);
  return std::make_unique<StoreCursor>(std::move(base),
                                       overlay_ && Overlay::ordered(db) ? overlay_ : nullptr, db);
}

}  // namespace bihuan::runtime
