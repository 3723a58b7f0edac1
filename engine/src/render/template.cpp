#include "render/template.hpp"

#include <kainjow/mustache.hpp>

#include <cstring>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>

namespace bihuan::render {
namespace {

using kainjow::mustache::data;
using kainjow::mustache::mustache;

data to_data(const json& v, int depth = 0) {
  if (depth > 64) return data(std::string());
  switch (v.type()) {
    case json::value_t::object: {
      data d{data::type::object};
      for (auto it = v.begin(); it != v.end(); ++it)
        d.set(it.key(), to_data(it.value(), depth + 1));
      return d;
    }
    case json::value_t::array: {
      data d{data::type::list};
      for (const auto& e : v) d.push_back(to_data(e, depth + 1));
      return d;
    }
    case json::value_t::string:
      return data(v.get<std::string>());
    case json::value_t::boolean:
      return v.get<bool>() ? data(data::type::bool_true) : data(data::type::bool_false);
    case json::value_t::null:
      return data(data::type::bool_false);
    default:
      return data(v.dump());
  }
}

// The context paths a template's tags name, as a trie of dotted segments. Only those are
// converted for Mustache (a step's context can carry a large event payload, or instance
// data, of which a template reads a field or two). Every tag's full path counts, also
// inside sections, where a name may fall back to the outer context; a path that names a
// section is converted whole, so the section's items keep every member.
struct Paths {
  bool whole = false;
  std::map<std::string, Paths, std::less<>> next;
  void add(std::string_view path) {
    Paths* node = this;
    while (!node->whole) {
      std::size_t dot = path.find('.');
      node = &node->next[std::string(path.substr(0, dot))];
      if (dot == std::string_view::npos) break;
      path.remove_prefix(dot + 1);
    }
    node->whole = true;
    node->next.clear();
  }
};

// Converts only the paths of `p` out of `v` (all of it where a path ends).
data select(const json& v, const Paths& p) {
  if (p.whole || !v.is_object()) return to_data(v);
  data d{data::type::object};
  for (const auto& [key, sub] : p.next)
    if (auto it = v.find(key); it != v.end()) d.set(key, select(*it, sub));
  return d;
}

struct Compiled {
  mustache tmpl;
  Paths paths;
  explicit Compiled(const std::string& text) : tmpl(text) {
    for (std::size_t at = text.find("{{"); at != std::string::npos; at = text.find("{{", at)) {
      std::size_t end = text.find("}}", at + 2);
      if (end == std::string::npos) break;
      std::string_view tag(text.data() + at + 2, end - at - 2);
      at = end + 2;
      while (!tag.empty() && std::strchr("{&#^/ \t", tag.front())) tag.remove_prefix(1);
      if (tag.empty() || tag.front() == '!') continue;
      if (tag.front() == '>' || tag.front() == '=') {  // partials, delimiter changes: all of it
        paths = Paths{};
        paths.whole = true;
        break;
      }
      tag = tag.substr(0, tag.find_first_of(" \t}"));
      if (!tag.empty() && tag != ".") paths.add(tag);
    }
  }
};

// Parsed templates are kept per thread (Mustache's renderer is not const); the writer
// renders the same few templates over and over.
Compiled& compiled(const std::string& text) {
  thread_local std::unordered_map<std::string, std::unique_ptr<Compiled>> cache;
  if (auto it = cache.find(text); it != cache.end()) return *it->second;
  if (cache.size() >= 1024) cache.clear();
  return *cache.emplace(text, std::make_unique<Compiled>(text)).first->second;
}

}  // namespace

std::optional<std::string> check_template(const std::string& text) {
  mustache tmpl(text);
  if (!tmpl.is_valid()) return tmpl.error_message();
  return std::nullopt;
}

std::string render_template(const std::string& text, const json& context) {
  Compiled& c = compiled(text);
  if (!c.tmpl.is_valid()) return "template error: " + c.tmpl.error_message();
  return c.tmpl.render(select(context, c.paths));
}

}  // namespace bihuan::render
