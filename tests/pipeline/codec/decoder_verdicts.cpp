// decoder_verdicts VECTORS: decodes each vector of VECTORS (the format of
// decoder_vectors.txt) and prints one JSON object per line, for
// schema_agrees.py to set beside the JSON Schema's verdicts:
//   {"line":12,"name":"flat_minimal","expect":"accept","schema":"same",
//    "decoder":"accept","detail":"","record":"<hex of the bytes>"}
// "expect" is the file's verdict, "decoder" the decoder's (accept or the
// refusal reason), "detail" the refusal's detail.

#include "tests/pipeline/codec/decoder_vectors.hpp"

#include "pipeline/core/json.hpp"

#include <cstdio>
#include <exception>
#include <string>

namespace {

std::string hex(const std::string& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 0xF];
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: decoder_verdicts VECTORS\n");
    return 2;
  }
  namespace dv = cotflow::decoder_vectors;
  std::vector<dv::input_vector> vectors;
  try {
    vectors = dv::load(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "decoder_verdicts: %s\n", e.what());
    return 1;
  }
  for (const auto& v : vectors) {
    auto refused = dv::decode(v);
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    w.StartObject();
    w.Key("line");
    w.Int(v.line);
    w.Key("name");
    w.String(v.name);
    w.Key("expect");
    w.String(v.verdict);
    w.Key("schema");
    w.String(v.schema_same ? "same" : "differs");
    w.Key("decoder");
    w.String(refused ? std::string{to_string(refused->reason)} : "accept");
    w.Key("detail");
    w.String(refused ? refused->detail : "");
    w.Key("record");
    w.String(hex(v.record));
    w.EndObject();
    std::printf("%s\n", buf.GetString());
  }
  return 0;
}
