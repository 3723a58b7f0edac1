// The route table: method + path pattern ("/v1/instances/{id}/events") -> handler, with
// the access a route needs. Matching is by segments; {name} matches one non-empty
// segment, which the handler receives percent-decoded in Call::params.
#pragma once

#include <string>
#include <vector>

#include "http.hpp"

namespace bihuan::api {

enum class Access {
  open,        // no token (health, metrics when public, the OpenAPI document)
  token,       // any valid token
  admin,       // a global administrator: role "admin" and no attrs.unit (Actor::global_admin)
  unit_admin,  // role "admin", any unit: the route checks the instance (bihuan::administers)
};

struct Route {
  http::verb method;
  std::string pattern;  // also the route's name in metrics
  Access access;
  Handler handler;
  std::vector<std::string> segments;  // split pattern
};

class Router {
 public:
  void add(http::verb method, std::string pattern, Access access, Handler handler);

  struct Match {
    const Route* route = nullptr;     // null: no route
    bool path_known = false;          // some route has this path (then 405, with `allow`)
    std::string allow;                // methods of that path, "GET, POST"
    std::vector<std::string> params;  // decoded
    bool bad_encoding = false;        // a segment had a broken %-escape
  };
  Match match(http::verb method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace bihuan::api
