#include "pipeline/tak/enroll.hpp"

#include "pipeline/core/json.hpp"
#include "pipeline/core/listen.hpp"
#include "pipeline/tak/protocol/cot_xml.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace cotflow {

namespace {

std::string ssl_error() {
  auto e = ERR_get_error();
  if (e == 0)
    return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(in.data()),
                           static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

struct reply {
  int status = 0;
  std::string body;
};

/// One HTTPS request with basic authentication (HTTP/1.0: the server
/// closes the connection after the reply, so its end is the body's).
std::optional<reply> https(const enrollment_request& req,
                           const std::string& method, const std::string& path,
                           const std::string& body, const std::string& accept,
                           std::string& err) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{
    SSL_CTX_new(TLS_client_method()), SSL_CTX_free};
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (!req.insecure) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    bool loaded = req.ca.empty()
                    ? SSL_CTX_set_default_verify_paths(ctx.get()) == 1
                    : SSL_CTX_load_verify_locations(ctx.get(), req.ca.c_str(),
                                                    nullptr)
                        == 1;
    if (!loaded) {
      err = "cannot load the CA " + req.ca + ": " + ssl_error();
      return std::nullopt;
    }
  }
  int fd = connect_tcp(req.host, req.port, req.timeout_ms, err);
  if (fd < 0)
    return std::nullopt;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl{SSL_new(ctx.get()), SSL_free};
  SSL_set_fd(ssl.get(), fd);
  SSL_set_tlsext_host_name(ssl.get(), req.host.c_str());
  if (!req.insecure)
    SSL_set1_host(ssl.get(), req.host.c_str());
  auto done = [&](std::optional<reply> r) {
    ::close(fd);
    return r;
  };
  if (SSL_connect(ssl.get()) != 1) {
    auto verify = SSL_get_verify_result(ssl.get());
    err = "TLS handshake with " + req.host + ":" + std::to_string(req.port)
          + " failed: "
          + (verify != X509_V_OK
               ? std::string{X509_verify_cert_error_string(verify)}
                   + " (give the server's CA with --ca, or --insecure for a "
                     "first enrollment)"
               : ssl_error());
    return done(std::nullopt);
  }
  std::string request = method + " " + path + " HTTP/1.0\r\nHost: " + req.host
                        + "\r\nAuthorization: Basic "
                        + base64(req.user + ":" + req.password) + "\r\nAccept: "
                        + accept + "\r\nUser-Agent: cotflow\r\n";
  if (method == "POST")
    request += "Content-Type: text/plain\r\nContent-Length: "
               + std::to_string(body.size()) + "\r\n";
  request += "\r\n" + body;
  if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size()))
      <= 0) {
    err = "cannot send the request: " + ssl_error();
    return done(std::nullopt);
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    int n = SSL_read(ssl.get(), buf, sizeof buf);
    if (n <= 0)
      break;
    raw.append(buf, static_cast<size_t>(n));
  }
  auto head_end = raw.find("\r\n\r\n");
  auto sp = raw.find(' ');
  if (head_end == std::string::npos || sp == std::string::npos) {
    err = "no HTTP reply from " + req.host + " to " + method + " " + path;
    return done(std::nullopt);
  }
  return done(reply{std::atoi(raw.c_str() + sp + 1), raw.substr(head_end + 4)});
}

/// The nameEntry name/value pairs anywhere in the server's certificate
/// configuration, in their order.
void name_entries(std::string_view xml,
                  std::vector<std::pair<std::string, std::string>>& out,
                  int depth = 0) {
  std::vector<xml_element> elements;
  std::string err;
  if (depth > 8 || !read_elements(xml, elements, err))
    return;
  for (auto& el : elements) {
    // Namespace prefixes (TAK Server writes ns2:certificateConfig) aside.
    auto colon = el.name.find(':');
    auto local = colon == std::string_view::npos ? el.name
                                                 : el.name.substr(colon + 1);
    auto name = el.find("name");
    auto value = el.find("value");
    if (local == "nameEntry" && name && value) {
      std::string n, v;
      if (xml_unescape(*name, n) && xml_unescape(*value, v))
        out.emplace_back(n, v);
    }
    name_entries(el.inner, out, depth + 1);
  }
}

/// The base64 body of a PEM text: what TAK clients send as the request.
std::string pem_body(const std::string& pem) {
  std::string out;
  size_t at = 0;
  while (at < pem.size()) {
    auto nl = pem.find('\n', at);
    auto line = pem.substr(at, nl == std::string::npos ? nl : nl - at);
    if (line.rfind("-----", 0) != 0)
      out += line;
    if (nl == std::string::npos)
      break;
    at = nl + 1;
  }
  return out;
}

/// A certificate the server sent as base64 DER (or PEM) as PEM.
std::string as_pem(std::string text) {
  if (text.find("-----BEGIN") != std::string::npos)
    return text.back() == '\n' ? text : text + "\n";
  std::string b64;
  for (char c : text)
    if (c != '\n' && c != '\r' && c != ' ')
      b64 += c;
  std::string out = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < b64.size(); i += 64)
    out += b64.substr(i, 64) + "\n";
  return out + "-----END CERTIFICATE-----\n";
}

/// PEM text of an OpenSSL object written by `write`.
template <class F>
std::string pem_of(F write) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio{BIO_new(BIO_s_mem()), BIO_free};
  write(bio.get());
  char* data = nullptr;
  auto n = BIO_get_mem_data(bio.get(), &data);
  return std::string{data, static_cast<size_t>(n)};
}

/// Writes `text` to `path` created with `mode` (the key is never readable
/// by others, not even for a moment).
bool write_file(const std::string& path, const std::string& text, mode_t mode,
                std::string& err) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  bool ok = fd >= 0 && ::fchmod(fd, mode) == 0
            && ::write(fd, text.data(), text.size())
                 == static_cast<ssize_t>(text.size());
  if (fd >= 0)
    ok = ::close(fd) == 0 && ok;
  if (!ok)
    err = "cannot write " + path + ": " + std::strerror(errno);
  return ok;
}

} // namespace

std::optional<enrollment_result> enroll(const enrollment_request& req,
                                        std::string& err) {
  // 1. What the server puts in a certificate's subject besides the user.
  auto config = https(req, "GET", "/Marti/api/tls/config", "",
                      "application/xml", err);
  if (!config) {
    err = "GET /Marti/api/tls/config: " + err;
    return std::nullopt;
  }
  if (config->status == 401 || config->status == 403) {
    err = "the server refused the user name or password (HTTP "
          + std::to_string(config->status) + ")";
    return std::nullopt;
  }
  if (config->status != 200) {
    err = "GET /Marti/api/tls/config answered HTTP "
          + std::to_string(config->status);
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> names;
  name_entries(config->body, names);

  // 2. A key and a request for it, made here.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_RSA_gen(2048),
                                                          EVP_PKEY_free};
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> csr{X509_REQ_new(),
                                                          X509_REQ_free};
  auto subject = X509_REQ_get_subject_name(csr.get());
  auto add = [&](const std::string& field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(
             subject, field.c_str(), MBSTRING_UTF8,
             reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0)
           == 1;
  };
  bool ok = key && csr && add("CN", req.user);
  for (auto& [field, value] : names)
    ok = ok && add(field, value);
  ok = ok && X509_REQ_set_pubkey(csr.get(), key.get()) == 1
       && X509_REQ_sign(csr.get(), key.get(), EVP_sha256()) > 0;
  if (!ok) {
    err = "cannot make the key and certificate request: " + ssl_error();
    return std::nullopt;
  }
  auto csr_pem = pem_of([&](BIO* b) { PEM_write_bio_X509_REQ(b, csr.get()); });

  // 3. The server signs it.
  auto signed_reply = https(req, "POST",
                            "/Marti/api/tls/signClient/v2?clientUid="
                              + req.client_uid + "&version=cotflow",
                            pem_body(csr_pem), "application/json", err);
  if (!signed_reply) {
    err = "POST /Marti/api/tls/signClient/v2: " + err;
    return std::nullopt;
  }
  if (signed_reply->status != 200) {
    err = "POST /Marti/api/tls/signClient/v2 answered HTTP "
          + std::to_string(signed_reply->status);
    return std::nullopt;
  }
  rapidjson::Document doc;
  doc.Parse(signed_reply->body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("signedCert")
      || !doc["signedCert"].IsString()) {
    err = "the signing reply holds no signedCert";
    return std::nullopt;
  }
  std::string ca_pem;
  for (auto& m : doc.GetObject())
    if (std::string{m.name.GetString()}.rfind("ca", 0) == 0
        && m.value.IsString())
      ca_pem += as_pem(m.value.GetString());
  auto cert_pem = as_pem(doc["signedCert"].GetString());

  // The certificate must be the one for our key.
  std::unique_ptr<BIO, decltype(&BIO_free)> bio{
    BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())),
    BIO_free};
  std::unique_ptr<X509, decltype(&X509_free)> cert{
    PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free};
  if (!cert || X509_check_private_key(cert.get(), key.get()) != 1) {
    err = "the server's signedCert is not a certificate for cotflow's key";
    return std::nullopt;
  }
  char line[512];
  X509_NAME_oneline(X509_get_subject_name(cert.get()), line, sizeof line);

  // 4. The files, the key readable by its owner only.
  ::mkdir(req.out_dir.c_str(), 0700);
  enrollment_result out;
  out.key = req.out_dir + "/" + req.client_uid + ".key.pem";
  out.cert = req.out_dir + "/" + req.client_uid + ".cert.pem";
  out.ca = req.out_dir + "/" + req.client_uid + ".ca.pem";
  out.subject = line;
  auto key_pem = pem_of([&](BIO* b) {
    PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr,
                             nullptr);
  });
  if (!write_file(out.key, key_pem, 0600, err)
      || !write_file(out.cert, cert_pem, 0644, err)
      || (!ca_pem.empty() && !write_file(out.ca, ca_pem, 0644, err)))
    return std::nullopt;
  if (ca_pem.empty())
    out.ca.clear();
  return out;
}

} // namespace cotflow
