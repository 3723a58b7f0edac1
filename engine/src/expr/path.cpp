#include "expr/path.hpp"

namespace bihuan::expr {
namespace {

// Canonical array index ("0", "17"; not "01", "-1", "1.0").
bool parse_index(std::string_view s, std::size_t& index) {
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return false;
  std::size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  index = v;
  return true;
}

const json* step(const json& node, std::string_view part) {
  if (node.is_object()) {
    auto it = node.find(part);
    return it != node.end() ? &*it : nullptr;
  }
  if (node.is_array()) {
    std::size_t i = 0;
    if (parse_index(part, i) && i < node.size()) return &node[i];
  }
  return nullptr;
}

}  // namespace

bool is_whole_key(const json* key) {
  return key == nullptr || key->is_null() ||
         (key->is_string() && key->get_ref<const std::string&>().empty());
}

std::string_view key_text(const json& key, std::string& storage, Meter& meter) {
  if (key.is_string()) return key.get_ref<const std::string&>();
  storage.clear();
  append_string(storage, key, meter);
  return storage;
}

const json* resolve_path(const json& root, std::string_view path) {
  const json* node = &root;
  while (node != nullptr) {
    std::size_t dot = path.find('.');
    node = step(*node, path.substr(0, dot));
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  return node;
}

const json* resolve_path(const Scope& scope, std::string_view path) {
  if (!scope.is_reduce()) return resolve_path(*scope.data, path);
  std::size_t dot = path.find('.');
  std::string_view head = path.substr(0, dot);
  const json* root = head == "current"       ? scope.current
                     : head == "accumulator" ? scope.accumulator
                                             : nullptr;
  if (root == nullptr || dot == std::string_view::npos) return root;
  return resolve_path(*root, path.substr(dot + 1));
}

}  // namespace bihuan::expr
