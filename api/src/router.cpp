#include "router.hpp"

namespace bihuan::api {

namespace {

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  if (!path.empty() && path[0] == '/') i = 1;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

void Router::add(http::verb method, std::string pattern, Access access, Handler handler) {
  Route r{method, pattern, access, std::move(handler), {}};
  for (auto seg : split(pattern)) r.segments.emplace_back(seg);
  routes_.push_back(std::move(r));
}

Router::Match Router::match(http::verb method, std::string_view path) const {
  Match m;
  auto segs = split(path);
  for (const auto& r : routes_) {
    if (r.segments.size() != segs.size()) continue;
    std::vector<std::string> params;
    bool ok = true, bad = false;
    for (std::size_t i = 0; i < segs.size() && ok; ++i) {
      const std::string& p = r.segments[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        if (segs[i].empty()) {
          ok = false;
          break;
        }
        auto decoded = percent_decode(segs[i], false);
        if (!decoded) bad = true;
        params.push_back(decoded.value_or(""));
      } else if (p != segs[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    if (r.method != method) {
      if (!m.path_known ||
          m.allow.find(std::string(http::to_string(r.method))) == std::string::npos)
        m.allow += (m.allow.empty() ? "" : ", ") + std::string(http::to_string(r.method));
      m.path_known = true;
      continue;
    }
    m.route = &r;
    m.params = std::move(params);
    m.bad_encoding = bad;
    return m;
  }
  return m;
}

}  // namespace bihuan::api
