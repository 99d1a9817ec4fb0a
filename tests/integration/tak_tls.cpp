// TLS destinations: client certificates (PEM and PKCS#12), refusal of a
// wrong CA or server name with a clear log line and backoff, keepalive.
// Certificates are generated at test time with the openssl command.
#include <boost/test/unit_test.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/tak_receiver.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

/// A throwaway PKI: a CA with a server and a client certificate, the
/// client also as PKCS#12, and an unrelated CA.
struct pki {
  pki() {
    auto cmd = "set -e; mkdir -p " + dir + "; cd " + dir + R"(
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
  -out "$1" 2>/dev/null; }
key ca.key; key other-ca.key; key server.key; key client.key
openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=test CA"
openssl req -x509 -new -key other-ca.key -out other-ca.pem -days 2 \
  -subj "/CN=other CA"
openssl req -new -key server.key -out server.csr -subj "/CN=tak.test"
printf 'subjectAltName=DNS:tak.test\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out server.pem -days 2 -extfile server.ext 2>/dev/null
openssl req -new -key client.key -out client.csr -subj "/CN=cotflow"
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out client.pem -days 2 2>/dev/null
openssl pkcs12 -export -in client.pem -inkey client.key -out client.p12 \
  -passout pass:s3cret-pass
# As TAK Server's certificate scripts export them: legacy encryption, the
# CA as a truststore PKCS#12.
openssl pkcs12 -export -legacy -in client.pem -inkey client.key \
  -out legacy.p12 -passout pass:atakatak
openssl pkcs12 -export -legacy -nokeys -in ca.pem -out truststore.p12 \
  -passout pass:atakatak
# A client certificate the server does not trust.
key stranger.key
openssl req -new -key stranger.key -out stranger.csr -subj "/CN=stranger"
openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key \
  -CAcreateserial -out stranger.pem -days 2 2>/dev/null
)";
    auto script = dir + ".sh";
    std::ofstream{script} << cmd;
    BOOST_REQUIRE_MESSAGE(std::system(("bash " + script).c_str()) == 0,
                          "openssl could not make the test certificates");
    std::remove(script.c_str());
  }
  ~pki() {
    std::system(("rm -rf " + dir).c_str());
  }
  std::string path(const std::string& f) const {
    return dir + "/" + f;
  }
  std::string dir = "/tmp/cotflow-pki-" + std::to_string(getpid());
};

bool said_in(const std::string& log, const std::string& what) {
  return log.find(what) != std::string::npos;
}

bool has_all_valid(const std::vector<produced>& inputs,
                   const std::map<uint64_t, int>& got) {
  for (auto& p : inputs)
    if (p.valid && got.count(p.seq) == 0)
      return false;
  return true;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(tak_tls, broker_fixture)

BOOST_AUTO_TEST_CASE(client_certificates_deliver_and_wrong_names_are_refused) {
  pki certs;
  tls_server_options server{certs.path("server.pem"), certs.path("server.key"),
                            certs.path("ca.pem")};
  tak_receiver pem{0, server};
  tak_receiver p12{0, server};
  tak_receiver wrong_ca{0, server};
  tak_receiver wrong_name{0, server};
  tak_receiver legacy{0, server};
  tak_receiver stranger{0, server};
  auto url = [&](const tak_receiver& rx, const std::string& opts) {
    return "tls://127.0.0.1:" + std::to_string(rx.port()) + "?" + opts;
  };
  auto client = "cert=" + certs.path("client.pem")
                + "&key=" + certs.path("client.key");
  std::string dests
    = "pem="
      + url(pem, "ca=" + certs.path("ca.pem") + "&" + client
                   + "&server_name=tak.test")
      + ",p12="
      + url(p12,
            "ca=" + certs.path("ca.pem") + "&p12=" + certs.path("client.p12")
              + "&password_env=TEST_P12_PASSWORD" + "&server_name=tak.test")
      + ",wrongca="
      + url(wrong_ca, "ca=" + certs.path("other-ca.pem") + "&" + client
                        + "&server_name=tak.test")
      + ",wrongname="
      + url(wrong_name, "ca=" + certs.path("ca.pem") + "&" + client
                          + "&server_name=not-tak.test")
      + ",legacy="
      + url(legacy, "ca_p12=" + certs.path("truststore.p12")
                      + "&ca_password_env=TEST_TAK_PASSWORD"
                      + "&p12=" + certs.path("legacy.p12")
                      + "&password_env=TEST_TAK_PASSWORD"
                      + "&server_name=tak.test")
      + ",stranger="
      + url(stranger,
            "ca=" + certs.path("ca.pem") + "&cert=" + certs.path("stranger.pem")
              + "&key=" + certs.path("stranger.key") + "&server_name=tak.test");
  auto run = this->run("tls",
                       {{"COTFLOW_TAK_DESTINATIONS", dests},
                        {"TEST_P12_PASSWORD", "s3cret-pass"},
                        {"TEST_TAK_PASSWORD", "atakatak"},
                        {"COTFLOW_TAK_RECONNECT_MIN_MS", "100"},
                        {"COTFLOW_TAK_RECONNECT_MAX_MS", "400"},
                        {"COTFLOW_PIPELINE_DRAIN_TIMEOUT_MS", "1000"}},
                       true);
  std::string log;
  auto read_log = [&] {
    while (auto line = run->read_line(1ms))
      log += *line + "\n";
  };
  auto inputs = publish_generated(bootstrap, input_topic, 2000, 0.0);
  BOOST_CHECK(eventually(
    [&] {
      read_log();
      return has_all_valid(inputs, pem.seqs())
             && has_all_valid(inputs, p12.seqs())
             && has_all_valid(inputs, legacy.seqs());
    },
    120s));
  // The wrong ones are refused, said so once, and retried with backoff.
  BOOST_CHECK(eventually(
    [&] {
      read_log();
      return wrong_ca.connections() >= 3 && wrong_name.connections() >= 3
             && said_in(log, "stranger (tls://")
             && said_in(log, "the server refused cotflow's client certificate");
    },
    60s));
  BOOST_CHECK_EQUAL(wrong_ca.events(), 0u);
  BOOST_CHECK_EQUAL(wrong_name.events(), 0u);
  BOOST_CHECK_EQUAL(stranger.events(), 0u);
  auto said = [&](const std::string& what) {
    return log.find(what) != std::string::npos;
  };
  BOOST_CHECK_MESSAGE(said("wrongca (tls://") && said("certificate verify"),
                      log);
  BOOST_CHECK(said("wrongname (tls://"));
  BOOST_CHECK(said("retrying in"));
  BOOST_CHECK_MESSAGE(!said("s3cret-pass"), "the password was logged");
  run->signal(SIGTERM);
  // What the wrong destinations never got was parked for them (their
  // breakers opened, or the drain parked it): the drain completes, and the
  // records wait in their parking topics for a fixed configuration.
  auto rc = run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
  read_log();
  for (auto name : {"wrongca", "wrongname", "stranger"}) {
    std::map<uint64_t, int> parked;
    for (auto& r :
         read_topic(bootstrap, std::string{"cotflow.parking."} + name))
      parked[*seq_of(r.payload)] += 1;
    BOOST_CHECK_MESSAGE(has_all_valid(inputs, parked),
                        name << ": " << parked.size() << " parked");
  }
  BOOST_TEST_MESSAGE(log.substr(0, 3000));
}

BOOST_AUTO_TEST_CASE(a_silent_server_fails_the_keepalive_and_is_reconnected) {
  pki certs;
  tls_server_options server{certs.path("server.pem"), certs.path("server.key"),
                            ""};
  tak_receiver silent{0, server, false};
  auto dests = "silent=tls://127.0.0.1:" + std::to_string(silent.port())
               + "?ca=" + certs.path("ca.pem") + "&server_name=tak.test";
  auto run = this->run("tls-ping",
                       {{"COTFLOW_TAK_DESTINATIONS", dests},
                        {"COTFLOW_TAK_PING_INTERVAL_MS", "200"},
                        {"COTFLOW_TAK_PING_TIMEOUT_MS", "300"},
                        {"COTFLOW_TAK_RECONNECT_MIN_MS", "100"},
                        {"COTFLOW_TAK_RECONNECT_MAX_MS", "200"}},
                       true);
  std::string log;
  BOOST_CHECK(eventually(
    [&] {
      while (auto line = run->read_line(1ms))
        log += *line + "\n";
      return silent.connections() >= 2 && silent.pings() >= 2;
    },
    60s));
  BOOST_CHECK(log.find("keepalive ping") != std::string::npos);
  run->signal(SIGTERM);
  auto rc = run->wait(60s);
  BOOST_REQUIRE(rc);
  BOOST_CHECK_EQUAL(*rc, 0);
}

BOOST_AUTO_TEST_SUITE_END()
