// The keys area: the admin's routes to list, make and revoke API keys while the server runs
// (`nbo keys` does the same from the command line). Each change is committed to the database,
// then the server's key set is refreshed at once, so a revoked key is refused from the next
// request on. Tokens appear only in the answer to POST /admin/keys, never in a log.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "nbo/json/writer.hpp"
#include "nbo/store/api_key_store.hpp"
#include "service_context.hpp"

namespace nbo::api {
namespace {

void write_key(json::Writer& writer, const auth::ApiKey& key) {
  writer.member("id", key.id);
  writer.member("name", key.name);
  writer.member("role", auth::role_name(key.role));
  writer.member("created_at", key.created_at);
  writer.key("revoked_at");
  if (key.revoked_at.empty()) {
    writer.null();
  } else {
    writer.string(key.revoked_at);
  }
}

struct KeyRequest {
  std::string name;
  auth::Role role = auth::Role::kScorer;
};

KeyRequest read_key_request(json::Value body) {
  if (!body.is_object()) {
    throw ApiError(errors::kInvalidType, "",
                   fmt::format("the body must be a JSON object, got {}", body.type_name()));
  }
  KeyRequest out;
  bool has_name = false;
  bool has_role = false;
  body.for_each_member([&](std::string_view key, json::Value value) {
    if (key != "name" && key != "role") {
      throw ApiError(errors::kUnknownField, std::string(key),
                     fmt::format("unknown field '{}' (allowed: name, role)", key));
    }
    if (!value.is_string()) {
      throw ApiError(errors::kInvalidType, std::string(key),
                     fmt::format("'{}' must be a string, got {}", key, value.type_name()));
    }
    if (key == "name") {
      out.name = std::string(value.string());
      try {
        auth::validate_key_name(out.name);
      } catch (const std::invalid_argument& error) {
        throw ApiError(errors::kInvalidValue, "name", error.what());
      }
      has_name = true;
    } else {
      const auto role = auth::parse_role(value.string());
      if (!role) {
        throw ApiError(
            errors::kUnknownCategory, "role",
            fmt::format("'{}' is not one of \"scorer\", \"writer\", \"admin\"", value.string()));
      }
      out.role = *role;
      has_role = true;
    }
  });
  if (!has_name) throw ApiError(errors::kMissingField, "name", "'name' is required");
  if (!has_role) throw ApiError(errors::kMissingField, "role", "'role' is required");
  return out;
}

}  // namespace

void add_key_routes(RouteTable& table, const ServiceContext& context) {
  const ServiceContext* ctx = &context;
  table.add({.method = "GET",
             .path = "/admin/keys",
             .handler =
                 [ctx](const http::Request&, const PathParameters&) {
                   std::string text;
                   json::Writer writer(text);
                   writer.begin_object();
                   writer.key("keys");
                   writer.begin_array();
                   for (const auto& key : ctx->deps.api_keys.list()) {
                     writer.begin_object();
                     write_key(writer, key);
                     writer.end_object();
                   }
                   writer.end_array();
                   writer.end_object();
                   return json_response(200, std::move(text));
                 },
             .dispatch = always(http::Dispatch::kWorker),
             .summary = "every API key, revoked ones included (never the keys themselves)",
             .access = auth::Access::kAdmin});
  table.add({.method = "POST",
             .path = "/admin/keys",
             .handler =
                 [ctx](const http::Request& request, const PathParameters&) {
                   const auto body = read_json_body(request, ctx->limits.max_json_depth);
                   KeyRequest wanted = read_key_request(body.root());
                   const auth::NewKey made =
                       ctx->deps.api_keys.add(std::move(wanted.name), wanted.role);
                   ctx->gatekeeper->refresh();
                   spdlog::info("request_id={} made API key {} ({}, role {})", request.request_id,
                                made.key.id, made.key.name, auth::role_name(made.key.role));
                   std::string text;
                   json::Writer writer(text);
                   writer.begin_object();
                   write_key(writer, made.key);
                   writer.member("key", made.token);
                   writer.end_object();
                   http::Response response = json_response(201, std::move(text));
                   response.headers.emplace_back("Cache-Control", "no-store");
                   return response;
                 },
             .dispatch = always(http::Dispatch::kWorker),
             .summary = "make an API key; the answer holds the key, shown this once",
             .access = auth::Access::kAdmin});
  table.add({.method = "DELETE",
             .path = "/admin/keys/{id}",
             .handler =
                 [ctx](const http::Request& request, const PathParameters& parameters) {
                   const std::string_view id = parameters.get("id");
                   const auto key = ctx->deps.api_keys.revoke(id);
                   if (!key) {
                     throw ApiError(errors::kKeyNotFound, "id",
                                    fmt::format("no API key has id '{}' (see GET /admin/keys)",
                                                id.substr(0, 64)));
                   }
                   ctx->gatekeeper->refresh();
                   spdlog::info("request_id={} revoked API key {} ({})", request.request_id,
                                key->id, key->name);
                   std::string text;
                   json::Writer writer(text);
                   writer.begin_object();
                   write_key(writer, *key);
                   writer.end_object();
                   return json_response(200, std::move(text));
                 },
             .dispatch = always(http::Dispatch::kWorker),
             .summary = "revoke an API key; it is refused from the next request on",
             .access = auth::Access::kAdmin});
}

}  // namespace nbo::api
