#include <boost/test/unit_test.hpp>

#include "actors/detail/failure.hpp"

#include <caf/error.hpp>
#include <caf/sec.hpp>

#include <stdexcept>

using namespace cotflow;

BOOST_AUTO_TEST_CASE(an_exception_s_text_is_what_the_failure_says) {
  auto x = std::make_exception_ptr(std::runtime_error("injected fault"));
  auto err = detail::exception_text(nullptr, x);
  BOOST_TEST((err == caf::sec::runtime_error));
  BOOST_TEST(detail::failure_text(err) == "injected fault");
  auto odd = std::make_exception_ptr(42);
  BOOST_TEST(detail::failure_text(detail::exception_text(nullptr, odd))
             == "unknown exception");
}

BOOST_AUTO_TEST_CASE(an_error_without_text_reads_as_caf_renders_it) {
  auto text = detail::failure_text(caf::sec::runtime_error);
  BOOST_TEST(text.find("runtime_error") != std::string::npos, text);
  BOOST_TEST(detail::failure_text(detail::runtime_error("cannot park"))
             == "cannot park");
}
