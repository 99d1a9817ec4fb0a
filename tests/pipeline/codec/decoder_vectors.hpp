#pragma once

#include "config/config.hpp"
#include "pipeline/codec/decoder.hpp"

#include <cctype>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

/// The input vectors of decoder_vectors.txt (its header says the format),
/// read by the decoder's unit test and by `decoder_verdicts`, which hands
/// the decoder's verdicts to the JSON Schema test.
namespace cotflow::decoder_vectors {

/// The decoder settings a vector is decoded with (`@set` lines).
struct settings {
  size_t max_record_bytes = 0;
  size_t max_text_bytes = 0;
  std::string missing_time;
  std::string out_of_range;
};

/// One vector: a record and what becomes of it.
struct input_vector {
  /// Its line in the file.
  int line = 0;
  std::string name;
  /// "accept" or the refusal reason's wire name.
  std::string verdict;
  /// A word the refusal's detail contains (may be empty).
  std::string detail_word;
  /// Whether the JSON Schema gives the same verdict ("same") or the other
  /// ("differs").
  bool schema_same = true;
  /// The record's bytes.
  std::string record;
  settings with;
};

/// The bytes of a RECORD field: as written, or with \xHH escapes after
/// "x:".
inline std::string record_bytes(const std::string& field) {
  if (field.compare(0, 2, "x:") != 0)
    return field;
  std::string out;
  for (size_t i = 2; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] == 'x'
        && std::isxdigit(static_cast<unsigned char>(field[i + 2]))
        && std::isxdigit(static_cast<unsigned char>(field[i + 3]))) {
      out += static_cast<char>(std::stoi(field.substr(i + 2, 2), nullptr, 16));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

/// The vectors of the file at `path`; throws std::runtime_error naming the
/// line when it is malformed.
inline std::vector<input_vector> load(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::runtime_error("cannot read " + path);
  auto defaults = default_config();
  settings with{static_cast<size_t>(defaults.pipeline.max_record_bytes),
                static_cast<size_t>(defaults.pipeline.max_text_bytes),
                defaults.cot.missing_time, defaults.cot.out_of_range};
  std::vector<input_vector> out;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    auto fail = [&](const std::string& why) {
      throw std::runtime_error(path + ":" + std::to_string(line) + ": " + why);
    };
    if (text.empty() || text[0] == '#')
      continue;
    size_t at = 0;
    // The next field separated by spaces; the RECORD is the rest.
    auto field = [&] {
      at = text.find_first_not_of(' ', at);
      if (at == std::string::npos)
        fail("a field is missing");
      auto end = text.find(' ', at);
      auto f = text.substr(at, end - at);
      at = end == std::string::npos ? text.size() : end;
      return f;
    };
    if (text.compare(0, 5, "@set ") == 0) {
      at = 5;
      auto assignment = field();
      auto eq = assignment.find('=');
      auto key = assignment.substr(0, eq);
      auto value = eq == std::string::npos ? "" : assignment.substr(eq + 1);
      if (key == "max_record_bytes")
        with.max_record_bytes = std::stoul(value);
      else if (key == "max_text_bytes")
        with.max_text_bytes = std::stoul(value);
      else if (key == "missing_time" && !value.empty())
        with.missing_time = value;
      else if (key == "out_of_range" && !value.empty())
        with.out_of_range = value;
      else
        fail("unknown setting " + key);
      continue;
    }
    input_vector v;
    v.line = line;
    v.with = with;
    v.name = field();
    auto verdict = field();
    auto colon = verdict.find(':');
    v.verdict = verdict.substr(0, colon);
    if (colon != std::string::npos)
      v.detail_word = verdict.substr(colon + 1);
    auto schema = field();
    if (schema != "same" && schema != "differs")
      fail("SCHEMA is neither same nor differs: " + schema);
    v.schema_same = schema == "same";
    auto start = text.find_first_not_of(' ', at);
    if (start == std::string::npos)
      fail("RECORD is missing");
    v.record = record_bytes(text.substr(start));
    out.push_back(std::move(v));
  }
  return out;
}

/// Decodes `v`'s record with its settings, as the encoder actor configures
/// its decoder; `fast` false: RapidJSON alone.
inline std::optional<refusal> decode(const input_vector& v, bool fast = true) {
  decoder dec{v.with.max_record_bytes, fast};
  dec.max_text(v.with.max_text_bytes);
  dec.allow_missing_time(v.with.missing_time != "refuse");
  dec.clamp_out_of_range(v.with.out_of_range == "clamp");
  detection d;
  return dec.decode(v.record, d);
}

} // namespace cotflow::decoder_vectors
