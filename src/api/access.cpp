// The key check of every request (Gatekeeper, service_context.hpp): 401 without an active key,
// 403 for a key whose role is below the route's.
#include <fmt/format.h>

#include "nbo/metrics/registry.hpp"
#include "nbo/store/api_key_store.hpp"
#include "service_context.hpp"

namespace nbo::api {
namespace {

ApiError unauthorized(std::string message) {
  ApiError error(errors::kUnauthorized, "", message);
  error.add_header("WWW-Authenticate", "Bearer realm=\"nbo\"");
  return error;
}

}  // namespace

Gatekeeper::Gatekeeper(store::ApiKeyStore& store, bool anonymous_without_keys,
                       metrics::Registry& metrics)
    : Gatekeeper(store, anonymous_without_keys, metrics,
                 metrics.counter("nbo_auth_refused_total",
                                 "Requests refused by the key check, by reason: missing (no key) "
                                 "and invalid (unknown, malformed or revoked key) answered 401, "
                                 "forbidden (the key's role is too low) answered 403",
                                 {"reason"})) {}

Gatekeeper::Gatekeeper(store::ApiKeyStore& store, bool anonymous_without_keys,
                       metrics::Registry& metrics, metrics::CounterFamily& refused)
    : store_(store),
      metrics_(metrics),
      anonymous_without_keys_(anonymous_without_keys),
      keys_(std::make_shared<const auth::KeySet>()),
      missing_(refused.with({"missing"})),
      invalid_(refused.with({"invalid"})),
      forbidden_(refused.with({"forbidden"})) {
  metrics.gauge_callback("nbo_api_keys_active", "API keys the server accepts now", [this] {
    std::lock_guard lock(mutex_);
    return static_cast<double>(keys_->size());
  });
}

Gatekeeper::~Gatekeeper() {
  metrics_.remove_callback("nbo_api_keys_active");
}

std::size_t Gatekeeper::refresh() {
  auto keys = std::make_shared<const auth::KeySet>(store_.active_keys());
  const std::size_t count = keys->size();
  std::lock_guard lock(mutex_);
  keys_ = std::move(keys);
  return count;
}

void Gatekeeper::check(const http::Request& request, auth::Access access) const {
  if (access == auth::Access::kPublic) return;
  std::shared_ptr<const auth::KeySet> keys;
  {
    std::lock_guard lock(mutex_);
    keys = keys_;
  }
  if (keys->none_ever_made() && anonymous_without_keys_) return;
  const std::string authorization = request.header("Authorization");
  if (authorization.empty()) {
    missing_.inc();
    throw unauthorized(fmt::format(
        "{} {} needs an API key of role {} or above: send the header 'Authorization: Bearer KEY' "
        "(keys are made by `nbo keys add`)",
        request.method, request.path, auth::access_name(access)));
  }
  const std::string_view token = auth::bearer_token(authorization);
  const auto caller = keys->authenticate(token);
  if (!caller) {
    invalid_.inc();
    const std::string_view id = auth::token_id(token);
    throw unauthorized(
        id.empty() ? std::string("the Authorization header does not hold 'Bearer KEY' with a key "
                                 "made by `nbo keys add`")
                   : fmt::format("API key {} is not active (unknown or revoked)", id));
  }
  if (!auth::allows(caller->role, access)) {
    forbidden_.inc();
    throw ApiError(errors::kForbidden, "",
                   fmt::format("API key {} has role {}; {} {} needs role {} or above", caller->id,
                               auth::role_name(caller->role), request.method, request.path,
                               auth::access_name(access)));
  }
}

}  // namespace nbo::api
