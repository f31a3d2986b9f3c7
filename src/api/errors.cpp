#include "nbo/api/errors.hpp"

#include <array>

#include "nbo/json/writer.hpp"

namespace nbo::api {
namespace {

constexpr std::array kTable{
    errors::kBadRequest,
    errors::kEmptyBody,
    errors::kInvalidJson,
    errors::kTooDeep,
    errors::kPayloadTooLarge,
    errors::kHeadersTooLarge,
    errors::kUnsupportedMediaType,
    errors::kBatchTooLarge,
    errors::kInvalidType,
    errors::kUnknownField,
    errors::kMissingField,
    errors::kOutOfRange,
    errors::kUnknownCategory,
    errors::kInvalidValue,
    errors::kUnauthorized,
    errors::kForbidden,
    errors::kNotFound,
    errors::kCustomerNotFound,
    errors::kSegmentNotFound,
    errors::kUserNotFound,
    errors::kOfferNotFound,
    errors::kKeyNotFound,
    errors::kUnknownCourse,
    errors::kMethodNotAllowed,
    errors::kReloadFailed,
    errors::kModelNotLoaded,
    errors::kSegmentsRefreshing,
    errors::kOverloaded,
    errors::kRequestLogFull,
    errors::kStorageUnavailable,
    errors::kInternalError,
};

}  // namespace

std::span<const ErrorCode> error_table() {
  return kTable;
}

const ErrorCode& find_error_code(std::string_view code) {
  for (const auto& entry : kTable) {
    if (entry.code == code) return entry;
  }
  return errors::kInternalError;
}

void ApiError::write(json::Writer& writer) const {
  writer.begin_object();
  writer.member("code", code());
  if (!field_.empty()) writer.member("field", field_);
  writer.member("message", std::string_view(what()));
  writer.end_object();
}

}  // namespace nbo::api
