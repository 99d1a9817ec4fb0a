#include <boost/test/unit_test.hpp>

#include "pipeline/tak/tak_connection.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tak_receiver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
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

/// tcp://127.0.0.1:`port`.
cotflow::tak_url tcp_url(uint16_t port) {
  cotflow::tak_url url;
  url.scheme = "tcp";
  url.host = "127.0.0.1";
  url.port = port;
  return url;
}

/// Connects `c` to `srv` and accepts the connection there.
void connect(tak_connection& c, server& srv) {
  std::string err;
  bool config_error = false;
  BOOST_REQUIRE_MESSAGE(c.connect(err, config_error), err);
  srv.accept();
}

} // namespace

BOOST_AUTO_TEST_CASE(a_gather_write_sends_the_pieces_in_order_across_partials) {
  server srv;
  tak_connection c{tcp_url(srv.port), 2000ms, 10000ms};
  std::string err;
  connect(c, srv);
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

BOOST_AUTO_TEST_CASE(ping_answers_are_counted_across_reads) {
  // TAK Server's answer in XML, and the bytes of a version 1 frame that
  // carries one (the type is a string field: the same bytes), fed whole,
  // byte by byte, and split at every place.
  std::string xml = R"(<event version="2.0" uid="takPong" type="t-x-c-t-r" )"
                    R"(how="h-g-i-g-o"/>)";
  std::string frame = std::string{"\xbf\x2a\x12\x28\x0a\x09"} + "t-x-c-t-r"
                      + "\x12\x07takPong";
  std::string ping = R"(<event type="t-x-c-t" uid="x"/>)";
  auto stream = xml + ping + frame + "t-x-c-t-" + xml;
  cotflow::pong_scanner whole;
  BOOST_TEST(whole.feed(stream) == 3u);
  cotflow::pong_scanner bytes;
  for (char ch : stream)
    bytes.feed(std::string_view{&ch, 1});
  BOOST_TEST(bytes.count() == 3u);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    cotflow::pong_scanner two;
    two.feed(std::string_view{stream}.substr(0, cut));
    two.feed(std::string_view{stream}.substr(cut));
    BOOST_TEST(two.count() == 3u, "cut at " << cut);
  }
  whole.reset();
  BOOST_TEST(whole.feed(ping) == 0u);
}

BOOST_AUTO_TEST_CASE(a_connection_counts_the_answers_it_reads) {
  server srv;
  tak_connection c{tcp_url(srv.port), 2000ms, 10000ms};
  connect(c, srv);
  std::string pong = R"(<event uid="takPong" type="t-x-c-t-r"/>)";
  auto half = pong.size() / 2;
  auto send = [&](std::string_view bytes) {
    BOOST_REQUIRE(::write(srv.conn, bytes.data(), bytes.size())
                  == static_cast<ssize_t>(bytes.size()));
  };
  // Reads until `n` answers are counted, for at most two seconds.
  auto wait_for = [&](uint64_t n) {
    std::string err;
    auto until = std::chrono::steady_clock::now() + 2s;
    while (c.pongs() < n && std::chrono::steady_clock::now() < until) {
      BOOST_REQUIRE_MESSAGE(c.drain(err), err);
      pollfd p{srv.conn, 0, 0};
      ::poll(&p, 1, 10);
    }
    return c.pongs();
  };
  send(std::string_view{pong}.substr(0, 25));
  BOOST_TEST(wait_for(0) == 0u);
  send(std::string_view{pong}.substr(25));
  send(pong.substr(0, half));
  BOOST_TEST(wait_for(1) == 1u);
  send(pong.substr(half));
  BOOST_TEST(wait_for(2) == 2u);
  // A new connection counts from zero.
  ::close(srv.conn);
  connect(c, srv);
  BOOST_TEST(c.pongs() == 0u);
}

BOOST_AUTO_TEST_CASE(unacknowledged_bytes_are_what_the_server_has_not_acked) {
  // A server that reads nothing: the kernel holds what it could not send;
  // once the server reads everything, its kernel has acknowledged all.
  server srv;
  tak_connection c{tcp_url(srv.port), 2000ms, 10000ms};
  std::string err;
  connect(c, srv);
  BOOST_TEST((c.unacknowledged() == std::optional<size_t>{0}));
  std::string text(2 * 1024 * 1024, 'x');
  std::string_view piece{text};
  size_t done = 0;
  auto r = c.write_some(&piece, 1, text.size(), done,
                        std::chrono::steady_clock::now(), err);
  BOOST_REQUIRE(r != tak_connection::progress::failed);
  BOOST_REQUIRE(done > 0);
  auto held = c.unacknowledged();
  BOOST_REQUIRE(held.has_value());
  BOOST_TEST(*held > 0u);
  BOOST_TEST(*held <= done);
  std::string got;
  for (int i = 0; i < 1000 && got.size() < done; ++i)
    srv.read_some(got, 1 << 20);
  BOOST_REQUIRE(got.size() == done);
  // The acknowledgement of the last bytes read is on its way: loopback
  // delivers it within a poll or two.
  for (int i = 0; i < 100 && c.unacknowledged().value_or(1) != 0; ++i)
    ::poll(nullptr, 0, 10);
  BOOST_TEST((c.unacknowledged() == std::optional<size_t>{0}));
}

namespace {

/// Client credentials as TAK Server's scripts make them: a CA, a client
/// certificate exported as a legacy PKCS#12 (`openssl pkcs12 -export
/// -legacy`, RC2-40 and 3DES, password atakatak), and a truststore
/// PKCS#12 of the CA certificate alone.
struct tak_credentials {
  std::string dir = "/tmp/cotflow-p12-" + std::to_string(getpid());
  tak_credentials() {
    auto cmd = "set -e; rm -rf " + dir + "; mkdir -p " + dir + "; cd " + dir
               + R"(
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=TAK CA"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out c.key
openssl req -new -key c.key -out c.csr -subj "/CN=cotflow"
openssl x509 -req -in c.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out c.pem -days 2 2>/dev/null
openssl pkcs12 -export -legacy -in c.pem -inkey c.key -out client.p12 \
  -passout pass:atakatak
openssl pkcs12 -export -legacy -nokeys -in ca.pem -out truststore.p12 \
  -passout pass:atakatak
openssl pkcs12 -export -legacy -in c.pem -inkey c.key -out open.p12 \
  -passout pass:
)";
    BOOST_REQUIRE_MESSAGE(
      std::system(("bash -c '" + cmd + "' >/dev/null 2>&1").c_str()) == 0,
      "openssl could not make the test credentials");
  }
  ~tak_credentials() {
    std::system(("rm -rf " + dir).c_str());
  }
  std::string path(const std::string& f) const {
    return dir + "/" + f;
  }
};

/// The error of connecting with `url` to a port nobody listens on: what
/// the TLS setup said, or the refused connect once the setup passed.
std::string connect_error(const cotflow::tak_url& url, bool& config_error) {
  tak_connection c{url, 2000ms, 10000ms};
  std::string err;
  config_error = false;
  BOOST_TEST(!c.connect(err, config_error));
  return err;
}

} // namespace

BOOST_AUTO_TEST_CASE(legacy_pkcs12_credentials_as_tak_server_exports_them) {
  tak_credentials creds;
  ::setenv("COTFLOW_TEST_P12_PASSWORD", "atakatak", 1);
  ::setenv("COTFLOW_TEST_WRONG_PASSWORD", "not-it", 1);
  cotflow::tak_url url;
  url.scheme = "tls";
  url.host = "127.0.0.1";
  url.port = 1; // nothing listens: the setup is what is tested
  url.server_name = "127.0.0.1";
  url.p12 = creds.path("client.p12");
  url.password_env = "COTFLOW_TEST_P12_PASSWORD";
  url.ca_p12 = creds.path("truststore.p12");
  url.ca_password_env = "COTFLOW_TEST_P12_PASSWORD";
  bool config_error = false;
  auto err = connect_error(url, config_error);
  // Both files load (the legacy provider does RC2-40): the connect itself
  // is what fails.
  BOOST_TEST(!config_error, err);
  BOOST_TEST(err.find("PKCS#12") == std::string::npos, err);
  // A wrong password says so, as a configuration error.
  url.password_env = "COTFLOW_TEST_WRONG_PASSWORD";
  err = connect_error(url, config_error);
  BOOST_TEST(config_error);
  BOOST_TEST(err.find("wrong password for " + url.p12) != std::string::npos,
             err);
  url.password_env = "COTFLOW_TEST_P12_PASSWORD";
  url.ca_password_env = "COTFLOW_TEST_WRONG_PASSWORD";
  err = connect_error(url, config_error);
  BOOST_TEST(config_error);
  BOOST_TEST(err.find("CA truststore: wrong password") != std::string::npos,
             err);
  // A file exported without a password loads without one.
  url.ca_password_env = "COTFLOW_TEST_P12_PASSWORD";
  url.p12 = creds.path("open.p12");
  url.password_env.clear();
  err = connect_error(url, config_error);
  BOOST_TEST(!config_error, err);
  url.password_env = "COTFLOW_TEST_P12_PASSWORD";
  // A truststore holds certificates only: as the client's PKCS#12 it has
  // no key to offer.
  url.ca_password_env = "COTFLOW_TEST_P12_PASSWORD";
  url.p12 = creds.path("truststore.p12");
  err = connect_error(url, config_error);
  BOOST_TEST(config_error);
  BOOST_TEST(err.find("holds no certificate with its key") != std::string::npos,
             err);
}

// TLS 1.3 ends the client's side of the handshake before the server has
// checked the client's certificate. A server that refuses it sends an
// alert and closes; writes that go on after that fail on the closed
// connection, and that failure must still say the certificate was refused
// (a credential problem, retried slowly), not "unknown TLS error".
BOOST_AUTO_TEST_CASE(
  a_certificate_refused_after_the_handshake_fails_writes_as_refused) {
  std::string dir = "/tmp/cotflow-stranger-" + std::to_string(getpid());
  auto cmd = "set -e; rm -rf " + dir + "; mkdir -p " + dir + "; cd " + dir + R"(
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
  -out "$1"; }
key ca.key; key other.key; key server.key; key stranger.key
openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=TAK CA"
openssl req -x509 -new -key other.key -out other.pem -days 2 -subj "/CN=other"
openssl req -new -key server.key -out server.csr -subj "/CN=tak.test"
echo subjectAltName=DNS:tak.test > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out server.pem -days 2 -extfile server.ext
openssl req -new -key stranger.key -out stranger.csr -subj "/CN=stranger"
openssl x509 -req -in stranger.csr -CA other.pem -CAkey other.key \
  -CAcreateserial -out stranger.pem -days 2
)";
  BOOST_REQUIRE_MESSAGE(
    std::system(("bash -c '" + cmd + "' >/dev/null 2>&1").c_str()) == 0,
    "openssl could not make the test certificates");
  {
    cotflow::test::tak_receiver rx{
      0, {dir + "/server.pem", dir + "/server.key", dir + "/ca.pem"}};
    auto url = tcp_url(rx.port());
    url.scheme = "tls";
    url.server_name = "tak.test";
    url.ca = dir + "/ca.pem";
    url.cert = dir + "/stranger.pem";
    url.key = dir + "/stranger.key";
    tak_connection c{url, 2000ms, 10000ms};
    std::string err;
    bool config_error = false;
    BOOST_REQUIRE_MESSAGE(c.connect(err, config_error), err);
    // The server has sent its alert and closed; nothing has read since.
    BOOST_REQUIRE(
      cotflow::test::eventually([&] { return rx.refused() == 1; }, 10s));
    std::string_view pieces[] = {"<event/>", "<event/>"};
    auto r = tak_connection::progress::complete;
    for (int i = 0; i < 100 && r != tak_connection::progress::failed; ++i) {
      size_t done = 0;
      r = c.write_some(pieces, 2, 16, done, std::chrono::steady_clock::now(),
                       err);
    }
    BOOST_REQUIRE(r == tak_connection::progress::failed);
    BOOST_TEST(c.refused_credentials(), err);
    BOOST_TEST(err.find("refused cotflow's client certificate")
                 != std::string::npos,
               err);
    BOOST_TEST(rx.events() == 0u);
  }
  std::system(("rm -rf " + dir).c_str());
}
