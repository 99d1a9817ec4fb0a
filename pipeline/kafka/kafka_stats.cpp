#include "pipeline/kafka/kafka_stats.hpp"

#include "pipeline/core/json.hpp"

namespace cotflow {

kafka_stats& kafka_stats::instance() {
  static kafka_stats s;
  return s;
}

bool kafka_stats::update(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("name")
      || !doc["name"].IsString())
    return false;
  auto num = [](const rapidjson::Value& o, const char* key) -> int64_t {
    auto it = o.FindMember(key);
    return it != o.MemberEnd() && it->value.IsNumber() ? it->value.GetInt64()
                                                       : 0;
  };
  kafka_client_stats c;
  if (auto t = doc.FindMember("type");
      t != doc.MemberEnd() && t->value.IsString())
    c.type = t->value.GetString();
  c.queue_messages = num(doc, "msg_cnt");
  c.queue_bytes = num(doc, "msg_size");
  if (auto b = doc.FindMember("brokers");
      b != doc.MemberEnd() && b->value.IsObject()) {
    for (auto& br : b->value.GetObject()) {
      if (!br.value.IsObject() || num(br.value, "nodeid") < 0)
        continue; // bootstrap and internal pseudo-brokers
      std::string name = br.name.GetString();
      c.waiting_requests[name] = num(br.value, "waitresp_cnt");
      if (auto rtt = br.value.FindMember("rtt");
          rtt != br.value.MemberEnd() && rtt->value.IsObject())
        c.rtt_seconds[name] = static_cast<double>(num(rtt->value, "avg")) / 1e6;
    }
  }
  if (c.type == "consumer")
    if (auto ts = doc.FindMember("topics");
        ts != doc.MemberEnd() && ts->value.IsObject())
      for (auto& t : ts->value.GetObject()) {
        auto ps = t.value.FindMember("partitions");
        if (ps == t.value.MemberEnd() || !ps->value.IsObject())
          continue;
        for (auto& p : ps->value.GetObject()) {
          auto id = num(p.value, "partition");
          auto lag = p.value.FindMember("consumer_lag");
          auto state = p.value.FindMember("fetch_state");
          if (id < 0 || lag == p.value.MemberEnd() || !lag->value.IsInt64()
              || lag->value.GetInt64() < 0
              || (state != p.value.MemberEnd() && state->value.IsString()
                  && std::string{state->value.GetString()} == "none"))
            continue;
          c.lag[{t.name.GetString(), static_cast<int32_t>(id)}]
            = lag->value.GetInt64();
        }
      }
  std::lock_guard<std::mutex> guard{mtx_};
  clients_[doc["name"].GetString()] = std::move(c);
  return true;
}

std::map<std::string, kafka_client_stats> kafka_stats::snapshot() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return clients_;
}

void kafka_stats::forget(const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx_};
  clients_.erase(name);
}

} // namespace cotflow
