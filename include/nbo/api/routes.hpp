// The route table: every route the service answers, filled in by the areas themselves.
//
// Each area registers its own routes from its own file (src/api/<area>_routes.cpp) through
// RouteTable::add(); nothing else lists them. Method checks (405 with Allow), metric labels,
// the dispatch of each request (inline on the I/O thread or on the worker pool) and the test
// that keeps openapi.yaml in sync all derive from the table.
//
// Path templates are literal segments and `{name}` parameters; a parameter matches one
// segment (no '/'), possibly empty: the handler validates it and names the problem.
//
// Thread safety: filled once while the Service is built, then only read (find() is const and
// safe from any thread). Handlers must be thread-safe: they run concurrently on I/O threads
// (Dispatch::kInline) and worker threads (Dispatch::kWorker).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nbo/auth/api_keys.hpp"
#include "nbo/http/message.hpp"
#include "nbo/http/server.hpp"

namespace nbo::api {

// The values of a matched template's {parameters}, views into the request path.
class PathParameters {
 public:
  void add(std::string_view name, std::string_view value) { values_.emplace_back(name, value); }
  // The value of `name`; "" when the template has no such parameter.
  std::string_view get(std::string_view name) const {
    for (const auto& [key, value] : values_) {
      if (key == name) return value;
    }
    return {};
  }

 private:
  std::vector<std::pair<std::string_view, std::string_view>> values_;
};

using RouteHandler = std::function<http::Response(const http::Request&, const PathParameters&)>;

struct Route {
  std::string method{};  // "GET", "POST", "PUT", ...
  std::string path{};    // template, e.g. "/customers/{id}"
  RouteHandler handler{};
  // Where the handler runs. Given the request (its body unparsed) so that a route may run small
  // requests inline and send large or database-bound ones to the workers; must be cheap.
  std::function<http::Dispatch(const http::Request&)> dispatch{};
  std::string summary{};  // one line, for logs and the route listing
  // The key a caller needs (see auth/api_keys.hpp), checked before the handler runs. Admin unless
  // the area says otherwise, so a route registered without thought is closed, not open.
  auth::Access access = auth::Access::kAdmin;
};

// Dispatch rules for Route::dispatch.
inline std::function<http::Dispatch(const http::Request&)> always(http::Dispatch dispatch) {
  return [dispatch](const http::Request&) { return dispatch; };
}

class RouteTable {
 public:
  // Adds a route. Throws std::logic_error for a duplicate (method, template) or a malformed
  // template (not starting with '/', an empty or unclosed {parameter}).
  void add(Route route);

  struct Match {
    const Route* route = nullptr;    // null: no route for this method (see path_template)
    std::string_view path_template;  // the template the path matches; "" when none
    PathParameters parameters;
    std::string allow;  // methods of path_template, "GET, PUT", when route is null
  };
  Match find(std::string_view method, std::string_view path) const;

  const std::vector<Route>& routes() const noexcept { return routes_; }

 private:
  static bool matches(std::string_view path_template, std::string_view path,
                      PathParameters* parameters);

  std::vector<Route> routes_;
};

}  // namespace nbo::api
