#pragma once

// The public CoT 2.0 schema that tests validate events against. It lives in
// ../shared (reference/cot/cot-event-2.0.xsd), beside the clone, not in it;
// CTest passes its path as COTFLOW_COT_XSD (tests/CMakeLists.txt).
//
// A test case that needs it is declared
//   BOOST_AUTO_TEST_CASE(name, *utf::label("cot_schema") * utf::disabled()
//                                * utf::precondition(have_cot_schema))
// so that it runs only as its own CTest test (`<suite>_schema`, see
// cotflow_schema_test), which CTest reports as skipped, not passed, when the
// schema is missing. With COTFLOW_REQUIRE_SHARED=1 (as in CI) it runs anyway
// and fails.

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <string>
#include <unistd.h>

namespace cotflow::test {

/// The schema's path, or "" when COTFLOW_COT_XSD names no readable file.
inline std::string cot_schema() {
  auto path = std::getenv("COTFLOW_COT_XSD");
  return path && access(path, R_OK) == 0 ? path : "";
}

/// Precondition of the test cases that need the schema: false (skip) when
/// it is missing, unless COTFLOW_REQUIRE_SHARED=1 makes that a failure.
inline boost::test_tools::assertion_result
have_cot_schema(boost::unit_test::test_unit_id) {
  auto required = std::getenv("COTFLOW_REQUIRE_SHARED");
  boost::test_tools::assertion_result ok{
    !cot_schema().empty() || (required && std::string{required} == "1")};
  auto path = std::getenv("COTFLOW_COT_XSD");
  ok.message() << "no CoT schema at COTFLOW_COT_XSD="
               << (path ? path : "(unset)")
               << " (COTFLOW_REQUIRE_SHARED=1 makes this a failure)";
  return ok;
}

/// Fails the test case unless the schema is there (for when
/// have_cot_schema let it run because the schema is required).
inline std::string require_cot_schema() {
  auto xsd = cot_schema();
  BOOST_TEST_REQUIRE(!xsd.empty(),
                     "COTFLOW_REQUIRE_SHARED=1 and no CoT schema at "
                     "COTFLOW_COT_XSD: is ../shared beside the clone?");
  return xsd;
}

} // namespace cotflow::test
