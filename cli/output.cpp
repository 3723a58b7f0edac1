#include "output.hpp"

#include <algorithm>
#include <iostream>

namespace bihuan::cli {

const TimeZone& zone_of(const Engine& engine, const std::string& definition, std::int64_t version) {
  auto def = engine.definition(definition, version);
  if (def && def->timezone) return *def->timezone;
  return *TimeZone::utc();
}

const TimeZone& zone_of(const Engine& engine, const InstanceView& v) {
  return zone_of(engine, v.definition, v.definition_version);
}

void print_json(const json& doc) {
  std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

std::size_t display_width(const std::string& text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80           ? 1
                      : (c >> 5) == 0x6  ? 2
                      : (c >> 4) == 0xe  ? 3
                      : (c >> 3) == 0x1e ? 4
                                         : 1;
    char32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (std::size_t k = 1; k < len && i + k < text.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
    bool wide = (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
                (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
                (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
                (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd);
    width += wide ? 2 : 1;
    i += len;
  }
  return width;
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t c = 0; c < row.size(); ++c)
      widths[c] = std::max(widths[c], display_width(row[c]));
  }
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - display_width(row[c]) + 2, ' ');
    }
    out << line << "\n";
  }
}

namespace {

std::string event_list(const Definition& def, const InstanceView& v) {
  int state = def.find_state(v.state);
  if (state < 0) return "";
  std::string out;
  for (const auto* ev : def.events_in(state)) {
    out += (out.empty() ? "" : ", ") + ev->name;
    if (!ev->roles.empty()) {
      std::string roles;
      for (const auto& r : ev->roles) roles += (roles.empty() ? "" : "|") + r;
      out += " (" + roles + ")";
    }
  }
  return out;
}

}  // namespace

void print_instance(std::ostream& out, const Engine& engine, const InstanceView& v) {
  const TimeZone& tz = zone_of(engine, v);
  Table t({"id", v.id});
  t.add({"definition", v.definition + " v" + std::to_string(v.definition_version)});
  if (!v.business_key.empty()) t.add({"key", v.business_key});
  t.add({"state", v.state});
  t.add({"status", to_string(v.status) + (v.outcome.empty() ? "" : " (" + v.outcome + ")")});
  t.add({"version", std::to_string(v.version)});
  if (v.deadline) t.add({"deadline", format_time(*v.deadline, tz)});
  t.add({"created", format_time(v.created_at, tz)});
  t.add({"updated", format_time(v.updated_at, tz)});
  if (!v.parent.empty()) t.add({"parent", v.parent});
  if (v.status == InstanceStatus::running)
    if (auto def = engine.definition(v.definition, v.definition_version))
      if (auto events = event_list(*def, v); !events.empty()) t.add({"accepts", events});
  t.add({"data", v.data.dump(-1, ' ', false, json::error_handler_t::replace)});
  t.print(out);
}

std::string short_hash(const std::string& hash) { return hash.substr(0, 12); }

}  // namespace bihuan::cli
