#include <boost/test/unit_test.hpp>

#include "pipeline/load/cot_receiver.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

using namespace cotflow;
using namespace std::chrono_literals;

namespace {

/// A TCP connection to 127.0.0.1:`port`; -1 with errno set when refused.
int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& s) {
  BOOST_REQUIRE_EQUAL(::send(fd, s.data(), s.size(), MSG_NOSIGNAL),
                      static_cast<ssize_t>(s.size()));
}

/// What arrives on `fd` until `what` is in it or it closes.
std::string read_until(int fd, const std::string& what) {
  std::string got;
  char buf[4096];
  while (got.find(what) == std::string::npos) {
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

std::string event(int seq) {
  return "<event version=\"2.0\" uid=\"t\" type=\"a-h-G\"><detail>"
         "<remarks>seq="
         + std::to_string(seq) + "</remarks></detail></event>";
}

} // namespace

BOOST_AUTO_TEST_SUITE(cot_receiver_suite)

BOOST_AUTO_TEST_CASE(
  events_are_split_and_counted_by_record_and_pings_answered) {
  cot_receiver rx;
  std::string err;
  BOOST_REQUIRE_MESSAGE(rx.start(0, err), err);
  BOOST_TEST(rx.port() != 0);
  int fd = connect_to(rx.port());
  BOOST_REQUIRE(fd >= 0);
  // An event split across writes, the same record twice, cotflow's hello.
  auto two = event(2);
  send_all(fd, "<event><detail><takv device=\"cotflow\"/></detail></event>"
                 + event(1) + two.substr(0, 20));
  send_all(fd, two.substr(20) + event(1));
  BOOST_TEST(rx.wait_for_distinct(2, 10s));
  send_all(fd, "<event version=\"2.0\" uid=\"ping\" type=\"t-x-c-t\"/>"
               "</event>");
  BOOST_TEST(read_until(fd, "</event>").find("type=\"t-x-c-t-r\"")
             != std::string::npos);
  auto c = rx.counts();
  BOOST_TEST(c.events == 3u);
  BOOST_TEST(c.distinct == 2u);
  BOOST_TEST(c.duplicates == 1u);
  BOOST_TEST(c.pings == 1u);
  BOOST_TEST(c.connections == 1u);
  BOOST_TEST(c.up);
  ::close(fd);
  rx.stop();
}

BOOST_AUTO_TEST_CASE(a_take_down_closes_connections_and_refuses_connects) {
  cot_receiver rx;
  std::string err;
  BOOST_REQUIRE_MESSAGE(rx.start(0, err), err);
  int fd = connect_to(rx.port());
  BOOST_REQUIRE(fd >= 0);
  send_all(fd, event(7));
  BOOST_TEST(rx.wait_for_distinct(1, 10s));
  rx.take_down_for(1h);
  // The connection is closed by the server...
  BOOST_TEST(read_until(fd, "never").empty());
  ::close(fd);
  // ...and connects are refused while it is down.
  BOOST_TEST(connect_to(rx.port()) == -1);
  BOOST_TEST(errno == ECONNREFUSED);
  auto c = rx.counts();
  BOOST_TEST(!c.up);
  BOOST_TEST(c.outages == 1u);
  BOOST_TEST(rx.down_for().count() > 59 * 60 * 1000);
  // A new take-down replaces the old one: back now, on the same port.
  auto port = rx.port();
  rx.take_down_for(0ms);
  int again = -1;
  for (int i = 0; i < 1000 && again < 0; ++i) {
    again = connect_to(port); // refused until the thread listens again
    if (again < 0)
      ::poll(nullptr, 0, 10);
  }
  BOOST_REQUIRE(again >= 0);
  send_all(again, event(8));
  BOOST_TEST(rx.wait_for_distinct(2, 10s));
  BOOST_TEST(rx.counts().outages == 2u);
  ::close(again);
}

BOOST_AUTO_TEST_SUITE_END()
