#include "nbo/http/error_body.hpp"

#include <nlohmann/json.hpp>

namespace nbo::http {

std::string error_json(std::string_view code, std::string_view message, std::string_view request_id,
                       std::string_view field) {
  nlohmann::json error = {{"code", code}, {"message", message}};
  if (!field.empty()) error["field"] = field;
  const nlohmann::json body = {{"error", std::move(error)}, {"request_id", request_id}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Response error_response(unsigned status, std::string_view code, std::string_view message,
                        std::string_view request_id, std::string_view field) {
  Response response;
  response.status = status;
  response.content_type = "application/json";
  response.body = error_json(code, message, request_id, field);
  return response;
}

}  // namespace nbo::http
