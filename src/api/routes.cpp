#include "nbo/api/routes.hpp"

#include <stdexcept>

namespace nbo::api {
namespace {

// Splits off the first segment of `path` (which starts with '/'); returns it and leaves the rest.
std::string_view next_segment(std::string_view& path) {
  path.remove_prefix(1);
  const auto slash = path.find('/');
  const std::string_view segment = path.substr(0, slash);
  path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  return segment;
}

bool is_parameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void RouteTable::add(Route route) {
  if (route.path.empty() || route.path.front() != '/') {
    throw std::logic_error("route template must start with '/': " + route.path);
  }
  std::string_view rest = route.path;
  while (!rest.empty()) {
    const auto segment = next_segment(rest);
    const bool opens = segment.find('{') != std::string_view::npos;
    if (opens && !is_parameter(segment)) {
      throw std::logic_error("malformed parameter in route template " + route.path);
    }
  }
  for (const auto& existing : routes_) {
    if (existing.method == route.method && existing.path == route.path) {
      throw std::logic_error("duplicate route " + route.method + " " + route.path);
    }
  }
  if (!route.handler) throw std::logic_error("route without a handler: " + route.path);
  if (!route.dispatch) route.dispatch = always(http::Dispatch::kWorker);
  routes_.push_back(std::move(route));
}

bool RouteTable::matches(std::string_view path_template, std::string_view path,
                         PathParameters* parameters) {
  if (path.empty() || path.front() != '/') return false;
  while (!path_template.empty() && !path.empty()) {
    const auto want = next_segment(path_template);
    const auto have = next_segment(path);
    if (is_parameter(want)) {
      if (parameters) parameters->add(want.substr(1, want.size() - 2), have);
    } else if (want != have) {
      return false;
    }
  }
  return path_template.empty() && path.empty();
}

RouteTable::Match RouteTable::find(std::string_view method, std::string_view path) const {
  Match match;
  for (const auto& route : routes_) {
    if (match.route == nullptr && route.method == method) {
      PathParameters parameters;
      if (matches(route.path, path, &parameters)) {
        match.route = &route;
        match.path_template = route.path;
        match.parameters = std::move(parameters);
        match.allow.clear();
        return match;
      }
    }
  }
  // No route for this method: the template the path belongs to, and what it accepts.
  for (const auto& route : routes_) {
    if ((match.path_template.empty() || match.path_template == route.path) &&
        matches(route.path, path, nullptr)) {
      match.path_template = route.path;
      if (!match.allow.empty()) match.allow += ", ";
      match.allow += route.method;
    }
  }
  return match;
}

}  // namespace nbo::api
