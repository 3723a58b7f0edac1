#include "render/template.hpp"

#include <kainjow/mustache.hpp>

#include <cstring>
#include <memory>
#include <set>
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
      for (auto it = v.begin(); it != v.end(); ++it) d.set(it.key(), to_data(it.value(), depth + 1));
      return d;
    }
    case json::value_t::array: {
      data d{data::type::list};
      for (const auto& e : v) d.push_back(to_data(e, depth + 1));
      return d;
    }
    case json::value_t::string: return data(v.get<std::string>());
    case json::value_t::boolean: return v.get<bool>() ? data(data::type::bool_true) : data(data::type::bool_false);
    case json::value_t::null: return data(data::type::bool_false);
    default: return data(v.dump());
  }
}

// A parsed template and the top-level context members its tags can reach: the first
// segment of every tag name ("data" for {{data.name}}, also inside sections, where a
// name falls back to the outer context). Only those members are converted for Mustache:
// a step's context can carry large event payloads that no template reads.
struct Compiled {
  mustache tmpl;
  std::set<std::string> roots;
  bool all_roots = false;  // partials or delimiter changes: convert everything
  explicit Compiled(const std::string& text) : tmpl(text) {
    for (std::size_t at = text.find("{{"); at != std::string::npos; at = text.find("{{", at)) {
      std::size_t end = text.find("}}", at + 2);
      if (end == std::string::npos) break;
      std::string_view tag(text.data() + at + 2, end - at - 2);
      at = end + 2;
      while (!tag.empty() && std::strchr("{&#^/ \t", tag.front())) tag.remove_prefix(1);
      if (tag.empty() || tag.front() == '!') continue;
      if (tag.front() == '>' || tag.front() == '=') {
        all_roots = true;
        break;
      }
      std::size_t stop = tag.find_first_of(". \t}");
      std::string root(tag.substr(0, stop));
      if (!root.empty()) roots.insert(std::move(root));
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
  if (c.all_roots || !context.is_object()) return c.tmpl.render(to_data(context));
  data d{data::type::object};
  for (const auto& root : c.roots)
    if (auto it = context.find(root); it != context.end()) d.set(root, to_data(*it, 1));
  return c.tmpl.render(d);
}

}  // namespace bihuan::render
