// `cotflow tak enroll` against an enrollment server written here
// (tests/integration/enroll_server.py, the public API's shape), and the
// certificate it got used at once: `cotflow run` delivers to a TLS
// receiver that requires a client certificate from that server's CA.
#include <boost/test/unit_test.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/tak_receiver.hpp"

#include <cstdlib>
#include <filesystem>
#include <sys/stat.h>

using namespace cotflow::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// The enrollment server, with its CA and server certificate in `dir`.
struct enrollment_server {
  std::string dir = "/tmp/cotflow-enroll-" + std::to_string(getpid());
  std::unique_ptr<child> proc;
  int port = 0;

  enrollment_server() {
    auto src = std::getenv("COTFLOW_SOURCE_DIR");
    BOOST_REQUIRE(src);
    proc = std::make_unique<child>(std::vector<std::string>{
      "/usr/bin/python3",
      std::string{src} + "/tests/integration/enroll_server.py", dir, "alice",
      "s3cret pass"});
    auto line = proc->read_line(60s);
    BOOST_REQUIRE_MESSAGE(line && line->rfind("port ", 0) == 0,
                          "the enrollment server did not start");
    port = std::stoi(line->substr(5));
  }

  ~enrollment_server() {
    proc->signal(SIGTERM);
    proc->wait(10s);
    fs::remove_all(dir);
  }
};

/// `cotflow tak enroll` with `args`; its exit code, stdout and stderr.
struct outcome {
  int code = -1;
  std::string out;
};

outcome enroll(const enrollment_server& s, std::vector<std::string> args,
               const std::string& password = "s3cret pass") {
  std::vector<std::string> argv{
    cotflow_bin(),         "tak", "enroll", "--host", "127.0.0.1", "--port",
    std::to_string(s.port)};
  argv.insert(argv.end(), args.begin(), args.end());
  child c{argv, {{"ENROLL_PW", password}}, true};
  outcome o;
  o.out = c.read_all(60s);
  auto rc = c.wait(10s);
  BOOST_REQUIRE(rc);
  o.code = *rc;
  return o;
}

std::string run_openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  child c{argv, {}, true};
  auto out = c.read_all(30s);
  c.wait(10s);
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(tak_enroll)

BOOST_AUTO_TEST_CASE(an_enrolled_certificate_is_signed_by_the_servers_ca) {
  enrollment_server s;
  auto out = s.dir + "/client";
  auto r = enroll(s, {"--user", "alice", "--password-env", "ENROLL_PW", "--ca",
                      s.dir + "/ca.pem", "--out", out, "--client-uid",
                      "cotflow-test"});
  BOOST_TEST_MESSAGE(r.out);
  BOOST_REQUIRE_EQUAL(r.code, 0);
  auto key = out + "/cotflow-test.key.pem";
  auto cert = out + "/cotflow-test.cert.pem";
  auto ca = out + "/cotflow-test.ca.pem";
  BOOST_CHECK(r.out.find("tls://127.0.0.1:8089?cert=" + cert + "&key=" + key
                         + "&ca=" + ca)
              != std::string::npos);
  struct stat st {};
  BOOST_REQUIRE_EQUAL(::stat(key.c_str(), &st), 0);
  BOOST_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  BOOST_CHECK(
    run_openssl({"verify", "-CAfile", s.dir + "/ca.pem", cert}).find(": OK")
    != std::string::npos);
  auto subject = run_openssl({"x509", "-noout", "-subject", "-in", cert});
  BOOST_CHECK_MESSAGE(subject.find("CN = alice") != std::string::npos
                        && subject.find("O = TAK Test") != std::string::npos
                        && subject.find("OU = cotflow & friends")
                             != std::string::npos,
                      subject);
  // The server recorded the client uid with the request.
  auto logged = s.proc->read_line(10s);
  BOOST_REQUIRE(logged);
  BOOST_CHECK(logged->find("signed cotflow-test") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_wrong_password_or_an_untrusted_server_is_refused) {
  enrollment_server s;
  auto wrong = enroll(s,
                      {"--user", "alice", "--password-env", "ENROLL_PW", "--ca",
                       s.dir + "/ca.pem", "--out", s.dir + "/x"},
                      "guess");
  BOOST_CHECK_EQUAL(wrong.code, 1);
  BOOST_CHECK(wrong.out.find("refused the user name or password")
              != std::string::npos);
  // Without its CA the server is not trusted, unless --insecure says so.
  auto untrusted = enroll(s, {"--user", "alice", "--password-env", "ENROLL_PW",
                              "--out", s.dir + "/y"});
  BOOST_CHECK_EQUAL(untrusted.code, 1);
  BOOST_CHECK(untrusted.out.find("--insecure") != std::string::npos);
  auto insecure = enroll(s, {"--user", "alice", "--password-env", "ENROLL_PW",
                             "--insecure", "--out", s.dir + "/z"});
  BOOST_CHECK_EQUAL(insecure.code, 0);
  // The password never comes from the command line.
  auto usage = enroll(s, {"--user", "alice"});
  BOOST_CHECK_EQUAL(usage.code, 2);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(tak_enroll_then_run, broker_fixture)

BOOST_AUTO_TEST_CASE(the_printed_url_delivers_to_a_server_of_that_ca) {
  enrollment_server s;
  auto out = s.dir + "/client";
  auto r = enroll(s, {"--user", "alice", "--password-env", "ENROLL_PW", "--ca",
                      s.dir + "/ca.pem", "--out", out, "--client-uid",
                      "cotflow-run"});
  BOOST_REQUIRE_EQUAL(r.code, 0);
  // A TAK-like server with the enrollment server's certificate, requiring
  // a client certificate from its CA.
  tak_receiver tak{0, tls_server_options{s.dir + "/server.pem",
                                         s.dir + "/server.key",
                                         s.dir + "/ca.pem"}};
  auto at = r.out.find("tls://127.0.0.1:8089?");
  BOOST_REQUIRE(at != std::string::npos);
  auto url = r.out.substr(at, r.out.find('\n', at) - at);
  url.replace(url.find(":8089?"), 6, ":" + std::to_string(tak.port()) + "?");
  auto run = this->run("enrolled",
                       {{"COTFLOW_TAK_DESTINATIONS", "tak=" + url}});
  auto inputs = publish_generated(bootstrap, input_topic, 200, 0.0);
  bool all = eventually([&] { return tak.seqs().size() == inputs.size(); },
                        60s);
  BOOST_CHECK_MESSAGE(all, tak.seqs().size() << " of " << inputs.size());
  run->signal(SIGTERM);
  BOOST_CHECK_EQUAL(*run->wait(60s), 0);
}

BOOST_AUTO_TEST_SUITE_END()
