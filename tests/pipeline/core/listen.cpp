// Listening addresses (pipeline/core/listen): host:port apart, a listener
// bound on loopback, and a port in use told apart.
#include <boost/test/unit_test.hpp>

#include "pipeline/core/listen.hpp"

#include <cerrno>

#include <unistd.h>

using namespace cotflow;

BOOST_AUTO_TEST_SUITE(listen)

BOOST_AUTO_TEST_CASE(an_address_comes_apart_as_host_and_port) {
  auto a = split_listen_address("127.0.0.1:8080");
  BOOST_REQUIRE(a);
  BOOST_TEST(a->host == "127.0.0.1");
  BOOST_TEST(a->port == "8080");
  auto v6 = split_listen_address("[::1]:8443s"); // civetweb's TLS suffix
  BOOST_REQUIRE(v6);
  BOOST_TEST(v6->host == "::1");
  BOOST_TEST(v6->port == "8443");
  auto any = split_listen_address(":9000");
  BOOST_REQUIRE(any);
  BOOST_TEST(any->host.empty());
  BOOST_TEST(!split_listen_address("8080"));
}

BOOST_AUTO_TEST_CASE(a_bound_port_is_in_use_until_it_is_closed) {
  int port = 0, error = 0;
  std::string why;
  int fd = bind_listener("127.0.0.1:0", port, why, error);
  BOOST_REQUIRE_MESSAGE(fd >= 0, why);
  BOOST_TEST(port > 0);
  BOOST_TEST(local_port(fd) == port);
  auto address = "127.0.0.1:" + std::to_string(port);
  BOOST_TEST(address_in_use(address));
  int again_port = 0;
  BOOST_TEST(bind_listener(address, again_port, why, error) == -1);
  BOOST_TEST(error == EADDRINUSE);
  ::close(fd);
  BOOST_TEST(!address_in_use(address));
}

BOOST_AUTO_TEST_CASE(an_address_that_does_not_parse_binds_nothing) {
  int port = 0, error = -1;
  std::string why;
  BOOST_TEST(bind_listener("no-port", port, why, error) == -1);
  BOOST_TEST(error == 0);
  BOOST_TEST(why.find("host:port") != std::string::npos);
  BOOST_TEST(!address_in_use("127.0.0.1:0"));
}

BOOST_AUTO_TEST_SUITE_END()
