// ApiError: a failure that becomes an HTTP error response at the handler edge
// (Service::handle), with the project's JSON error body.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace nbo::api {

class ApiError : public std::runtime_error {
 public:
  // `status` is the HTTP status; `code` machine-readable ("invalid_type", ...); `field` the
  // JSON path of the offending field, empty when the problem is not one field's.
  ApiError(unsigned status, std::string code, std::string field, const std::string& message)
      : std::runtime_error(message),
        status_(status),
        code_(std::move(code)),
        field_(std::move(field)) {}

  unsigned status() const noexcept { return status_; }
  const std::string& code() const noexcept { return code_; }
  const std::string& field() const noexcept { return field_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept {
    return headers_;
  }

  void add_header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
  }

  // {"code": ..., "message": ..., "field": ...} (field omitted when empty).
  nlohmann::json to_json() const {
    nlohmann::json out{{"code", code_}, {"message", what()}};
    if (!field_.empty()) out["field"] = field_;
    return out;
  }

 private:
  unsigned status_;
  std::string code_;
  std::string field_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace nbo::api
