// Shared helpers of the bench programs (header only: CMake builds every bench/*.cpp as its own
// executable, so this file is included, not compiled on its own).
#pragma once

#include <cstddef>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nbo/features/customer.hpp"
#include "nbo/train/market_export.hpp"

namespace nbo::bench {

struct BenchCustomer {
  std::string id;
  features::RawCustomer customer;
  nlohmann::json features;  // the API `features` object of this customer
};

struct BenchCustomers {
  std::vector<BenchCustomer> customers;
  std::string source;  // human-readable: where the customers came from
  bool synthetic = false;
};

// A deterministic set of valid customers covering every store field, used when the real export
// is not available. Values stay inside the ranges of features::store_fields().
inline std::vector<BenchCustomer> synthetic_customers(std::size_t count) {
  using features::FieldId;
  const auto services = features::category_levels(FieldId::kServiceType);
  const auto categories = features::category_levels(FieldId::kPopularCategory);
  std::vector<BenchCustomer> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const double k = static_cast<double>(i);
    features::RawCustomer c;
    c.set_category(FieldId::kServiceType, services[i % services.size()]);
    c.set_boolean(FieldId::kAllowMessages, i % 3 != 0);
    c.set_number(FieldId::kMarketingActivity6m, 0.9 + static_cast<double>(i % 50) / 10.0);
    c.set_number(FieldId::kMarketingActivityCurrent, static_cast<double>(3 + i % 4));
    c.set_number(FieldId::kTenureDays, static_cast<double>(110 + (i * 37) % 970));
    c.set_number(FieldId::kPromoShare, static_cast<double>(i % 100) / 100.0);
    c.set_category(FieldId::kPopularCategory, categories[i % categories.size()]);
    c.set_number(FieldId::kAvgCategoriesPerVisit, static_cast<double>(1 + i % 6));
    c.set_number(FieldId::kUnpaidItemsQuarter, static_cast<double>(i % 11));
    c.set_number(FieldId::kServiceErrors, static_cast<double>(i % 10));
    c.set_number(FieldId::kPagesPerVisit, static_cast<double>(1 + i % 20));
    c.set_number(FieldId::kRevenue2MonthsAgo, 4100.0 + 7.0 * k);
    c.set_number(FieldId::kRevenueLastMonth, 4200.0 + 11.0 * static_cast<double>(i % 300));
    c.set_number(FieldId::kRevenueThisMonth, 4300.0 + 13.0 * static_cast<double>(i % 300));
    c.set_number(FieldId::kMinutesLastMonth, static_cast<double>(6 + i % 18));
    c.set_number(FieldId::kMinutesThisMonth, static_cast<double>(5 + (i * 7) % 19));
    c.set_number(FieldId::kProfit, 1.0 + static_cast<double>(i % 60) / 10.0);
    out.push_back({"synthetic-" + std::to_string(i), c, features::customer_to_json(c)});
  }
  return out;
}

// The real store export under `dir` when it loads, else `fallback_count` synthetic customers.
// Says on stderr which one it used.
inline BenchCustomers load_bench_customers(const std::filesystem::path& dir,
                                           std::size_t fallback_count = 200) {
  BenchCustomers result;
  std::error_code ec;
  if (std::filesystem::exists(dir / train::kMarketFile, ec)) {
    try {
      auto dataset = train::load_market_export(dir);
      for (auto& labeled : dataset.customers) {
        nlohmann::json json = features::customer_to_json(labeled.customer);
        result.customers.push_back(
            {std::move(labeled.customer_id), std::move(labeled.customer), std::move(json)});
      }
      result.source = "real export " + dir.string() + " (" +
                      std::to_string(result.customers.size()) + " customers kept of " +
                      std::to_string(dataset.report.customers_read) + " read)";
    } catch (const std::exception& error) {
      std::cerr << "cannot load the export " << dir << ": " << error.what() << '\n';
      result.customers.clear();
    }
  }
  if (result.customers.empty()) {
    result.customers = synthetic_customers(fallback_count);
    result.synthetic = true;
    result.source = "SYNTHETIC customers (" + std::to_string(fallback_count) +
                    "): the export " + dir.string() + " is not available";
  }
  std::cerr << "customers: " << result.source << '\n';
  return result;
}

}  // namespace nbo::bench
