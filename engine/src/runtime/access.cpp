// Who may see and administer an instance (docs/authorization.md).
#include <algorithm>

#include "bihuan/instance.hpp"

namespace bihuan {

std::string Actor::unit() const {
  if (!attrs.is_object()) return "";
  auto it = attrs.find("unit");
  if (it == attrs.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

bool Actor::global_admin() const { return has_role("admin") && unit().empty(); }

std::vector<std::string> Actor::keys() const {
  std::vector<std::string> out{"*", "actor:" + id};
  for (const auto& r : roles) out.push_back("role:" + r);
  if (attrs.is_object())
    for (const auto& [name, value] : attrs.items()) {
      // "actor" and "role" name the keys above: an attribute of that name would forge
      // another caller's id or a role the caller does not hold.
      if (name == "actor" || name == "role") continue;
      if (value.is_string())
        out.push_back(name + ":" + value.get<std::string>());
      else if (value.is_array())
        for (const auto& v : value)
          if (v.is_string()) out.push_back(name + ":" + v.get<std::string>());
    }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

json Actor::to_json() const {
  return {{"id", id}, {"roles", roles}, {"attrs", attrs.is_object() ? attrs : json::object()}};
}

bool unit_covers(std::string_view outer, std::string_view inner) {
  if (outer.empty() || inner.size() < outer.size()) return false;
  if (inner.compare(0, outer.size(), outer) != 0) return false;
  return inner.size() == outer.size() || inner[outer.size()] == '/';
}

bool visible(const InstanceView& instance, const Actor& actor) {
  return visible(instance.unit, instance.readers, actor);
}

bool visible(std::string_view unit, const std::vector<std::string>& readers, const Actor& actor) {
  if (actor.is_system() || actor.global_admin()) return true;
  if (unit_covers(actor.unit(), unit)) return true;
  if (readers.empty()) return false;
  // Both lists are small and sorted.
  auto keys = actor.keys();
  auto a = keys.begin();
  auto b = readers.begin();
  while (a != keys.end() && b != readers.end()) {
    if (*a == *b) return true;
    if (*a < *b)
      ++a;
    else
      ++b;
  }
  return false;
}

bool administers(const Actor& actor, const InstanceView& instance) {
  if (actor.is_system() || actor.global_admin()) return true;
  return actor.has_role("admin") && unit_covers(actor.unit(), instance.unit);
}

}  // namespace bihuan
