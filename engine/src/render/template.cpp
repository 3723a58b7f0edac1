#include "render/template.hpp"

#include <kainjow/mustache.hpp>

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

}  // namespace

std::optional<std::string> check_template(const std::string& text) {
  mustache tmpl(text);
  if (!tmpl.is_valid()) return tmpl.error_message();
  return std::nullopt;
}

std::string render_template(const std::string& text, const json& context) {
  mustache tmpl(text);
  if (!tmpl.is_valid()) return "template error: " + tmpl.error_message();
  return tmpl.render(to_data(context));
}

}  // namespace bihuan::render
