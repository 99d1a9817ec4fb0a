#include <boost/test/unit_test.hpp>

#include "pipeline/ops/dashboard.hpp"
#include "pipeline/ops/http_client.hpp"

#include <fstream>
#include <sstream>

using namespace cotflow;

namespace {

/// The page as the source tree has it (COTFLOW_DASHBOARD_HTML, set by
/// tests/CMakeLists.txt).
std::string page_file() {
  std::ifstream in{COTFLOW_DASHBOARD_HTML, std::ios::binary};
  BOOST_REQUIRE(in.good());
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

} // namespace

BOOST_AUTO_TEST_CASE(the_compiled_in_page_is_the_html_file_byte_for_byte) {
  auto file = page_file();
  BOOST_TEST(file.size() > 1000u);
  BOOST_TEST(dashboard_html().size() == file.size());
  BOOST_TEST((dashboard_html() == file));
}

BOOST_AUTO_TEST_CASE(the_root_path_serves_that_page_without_a_token) {
  std::string err;
  auto http = http_server::start("127.0.0.1:0", "secret", err);
  BOOST_REQUIRE_MESSAGE(http, err);
  add_dashboard(*http);
  auto address = http->address();
  auto port = std::stoi(address.substr(address.rfind(':') + 1));
  auto reply = http_get("127.0.0.1", port, "/");
  BOOST_REQUIRE(reply);
  BOOST_TEST(reply->status == 200);
  BOOST_TEST((reply->body == page_file()));
}
