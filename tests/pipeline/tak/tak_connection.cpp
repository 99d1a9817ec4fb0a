#include <boost/test/unit_test.hpp>

#include "pipeline/tak/tak_connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;
using cotflow::tak_connection;

namespace {

/// A listening socket on 127.0.0.1 with a small receive buffer, so that
/// writes to it go partial soon; accepts one connection.
struct server {
  int listener = -1;
  int conn = -1;
  uint16_t port = 0;

  server() {
    listener = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096; // before listen: accepted sockets inherit it
    ::setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a))
                  == 0);
    BOOST_REQUIRE(::listen(listener, 1) == 0);
    socklen_t len = sizeof(a);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }

  ~server() {
    if (conn >= 0)
      ::close(conn);
    ::close(listener);
  }

  void accept() {
    conn = ::accept(listener, nullptr, nullptr);
    BOOST_REQUIRE(conn >= 0);
  }

  /// Reads what is there now (up to `max` bytes) into `out`.
  void read_some(std::string& out, size_t max) {
    pollfd p{conn, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      return;
    std::string buf(max, '\0');
    auto n = ::read(conn, buf.data(), buf.size());
    if (n > 0)
      out.append(buf.data(), static_cast<size_t>(n));
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_gather_write_sends_the_pieces_in_order_across_partials) {
  server srv;
  cotflow::tak_url url;
  url.scheme = "tcp";
  url.host = "127.0.0.1";
  url.port = srv.port;
  tak_connection c{url, 2000ms, 10000ms};
  std::string err;
  bool config_error = false;
  BOOST_REQUIRE_MESSAGE(c.connect(err, config_error), err);
  srv.accept();
  // 2,000 pieces of different sizes (one empty), ~10 MB in all: more than
  // the socket buffers hold (Linux's default send buffer tops out at
  // 4 MB), and more pieces than one sendmsg takes.
  std::vector<std::string> texts;
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    std::string t = i == 7 ? "" : "<event n=\"" + std::to_string(i) + "\"/>";
    t += std::string(static_cast<size_t>((i * 7919) % 10000), 'a' + i % 26);
    texts.push_back(t);
    expected += t;
  }
  std::vector<std::string_view> pieces(texts.begin(), texts.end());
  size_t done = 0;
  std::string got;
  int partials = 0;
  auto since = std::chrono::steady_clock::now();
  for (;;) {
    auto r = c.write_some(pieces.data(), pieces.size(), expected.size(), done,
                          since, err);
    BOOST_REQUIRE_MESSAGE(r != tak_connection::progress::failed, err);
    if (r == tak_connection::progress::complete)
      break;
    ++partials;
    BOOST_TEST(done < expected.size());
    srv.read_some(got, 30000); // a slow reader: a little at a time
  }
  BOOST_TEST(done == expected.size());
  BOOST_TEST(partials > 0); // the partial path was taken
  while (got.size() < expected.size()) {
    auto before = got.size();
    srv.read_some(got, 65536);
    if (got.size() == before)
      break;
  }
  BOOST_TEST(got.size() == expected.size());
  BOOST_TEST((got == expected));
}
