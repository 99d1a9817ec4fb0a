#include "tests/support/kafka_client.hpp"

#include "pipeline/codec/generator.hpp"
#include "pipeline/core/time.hpp"
#include "pipeline/kafka/kafka.hpp"
#include "pipeline/load/publisher.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace cotflow::test {

namespace {

std::unique_ptr<RdKafka::Conf> base_conf(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> conf{
    RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL)};
  std::string err;
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("log_level", "3", err);
  return conf;
}

/// A consumer's: the embedded broker's settings, as cotflow's consumers
/// have them there.
std::unique_ptr<RdKafka::Conf> consumer_conf(const std::string& bootstrap) {
  auto conf = base_conf(bootstrap);
  std::string err;
  for (auto& [k, v] : cotflow::embedded_consumer_properties())
    conf->set(k, v, err);
  return conf;
}

struct collect_dr : RdKafka::DeliveryReportCb {
  std::vector<produced>* out;
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR)
      throw std::runtime_error("test publish failed: " + m.errstr());
    auto& p = (*out)[reinterpret_cast<uintptr_t>(m.msg_opaque())];
    p.partition = m.partition();
    p.offset = m.offset();
  }
};

int32_t partition_count(RdKafka::Handle& h, const std::string& topic) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> t{
    RdKafka::Topic::create(&h, topic, nullptr, err)};
  RdKafka::Metadata* md = nullptr;
  if (h.metadata(false, t.get(), &md, 10000) != RdKafka::ERR_NO_ERROR)
    throw std::runtime_error("metadata failed for " + topic);
  std::unique_ptr<RdKafka::Metadata> guard{md};
  for (auto* tm : *md->topics())
    if (tm->topic() == topic)
      return static_cast<int32_t>(tm->partitions()->size());
  throw std::runtime_error("no such topic " + topic);
}

} // namespace

std::vector<produced> publish_generated(const std::string& bootstrap,
                                        const std::string& topic,
                                        uint64_t count, double malformed,
                                        uint64_t seed, uint64_t first_seq,
                                        int tracks) {
  std::vector<produced> out(count);
  collect_dr dr;
  dr.out = &out;
  std::string err;
  auto p = record_publisher::make(
    {{"bootstrap.servers", bootstrap}, {"log_level", "3"}, {"linger.ms", "5"}},
    err, &dr);
  if (!p)
    throw std::runtime_error(err);
  detection_generator::options opts;
  opts.seed = seed;
  opts.malformed = malformed;
  opts.first_seq = first_seq;
  opts.tracks = tracks;
  detection_generator gen{opts};
  generated_record rec;
  for (uint64_t i = 0; i < count; ++i) {
    gen.next(rec, now_ms());
    out[i] = {rec.seq, rec.valid, -1, -1};
    if (!p->send(topic, rec.key, rec.payload, 0, err,
                 reinterpret_cast<void*>(static_cast<uintptr_t>(i))))
      throw std::runtime_error("produce: " + err);
    p->poll(0);
  }
  if (!p->flush(30000))
    throw std::runtime_error("test publish did not complete");
  return out;
}

void publish_raw(const std::string& bootstrap, const std::string& topic,
                 const std::vector<std::string>& payloads) {
  std::string err;
  auto p = record_publisher::make(
    {{"bootstrap.servers", bootstrap}, {"log_level", "3"}}, err);
  if (!p)
    throw std::runtime_error(err);
  for (auto& payload : payloads)
    if (!p->send(topic, "raw", payload, 0, err))
      throw std::runtime_error("produce failed: " + err);
  if (!p->flush(30000))
    throw std::runtime_error("raw publish did not complete");
}

struct kafka_observer::impl {
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
};

kafka_observer::kafka_observer(const std::string& bootstrap,
                               const std::string& group)
  : impl_(std::make_unique<impl>()) {
  auto conf = base_conf(bootstrap);
  std::string err;
  conf->set("group.id", group, err);
  conf->set("client.id", "cotflow-observer", err);
  conf->set("enable.auto.commit", "false", err);
  impl_->consumer.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!impl_->consumer)
    throw std::runtime_error("observer: " + err);
}

kafka_observer::~kafka_observer() {
  impl_->consumer->close();
}

std::map<int32_t, int64_t>
kafka_observer::high_watermarks(const std::string& topic) {
  auto& c = *impl_->consumer;
  std::map<int32_t, int64_t> out;
  auto n = partition_count(c, topic);
  for (int32_t i = 0; i < n; ++i) {
    int64_t lo = 0, hi = 0;
    if (c.query_watermark_offsets(topic, i, &lo, &hi, 10000)
        != RdKafka::ERR_NO_ERROR)
      throw std::runtime_error("watermarks failed");
    out[i] = hi;
  }
  return out;
}

std::vector<int64_t> kafka_observer::highs(const std::string& topic, int n) {
  std::vector<int64_t> out;
  for (int p = 0; p < n; ++p) {
    int64_t lo = 0, hi = 0;
    impl_->consumer->query_watermark_offsets(topic, p, &lo, &hi, 5000);
    out.push_back(hi);
  }
  return out;
}

int64_t kafka_observer::high_sum(const std::string& topic, int n) {
  int64_t sum = 0;
  for (int p = 0; p < n; ++p) {
    int64_t lo = 0, hi = 0;
    if (impl_->consumer->query_watermark_offsets(topic, p, &lo, &hi, 5000)
        != RdKafka::ERR_NO_ERROR)
      return -1;
    sum += hi;
  }
  return sum;
}

std::map<int32_t, int64_t> kafka_observer::committed(const std::string& topic) {
  auto& c = *impl_->consumer;
  auto n = partition_count(c, topic);
  std::vector<RdKafka::TopicPartition*> parts;
  for (int32_t i = 0; i < n; ++i)
    parts.push_back(RdKafka::TopicPartition::create(topic, i));
  if (c.committed(parts, 10000) != RdKafka::ERR_NO_ERROR) {
    RdKafka::TopicPartition::destroy(parts);
    throw std::runtime_error("committed() failed");
  }
  std::map<int32_t, int64_t> out;
  for (auto* p : parts)
    out[p->partition()] = p->offset() < 0 ? -1 : p->offset();
  RdKafka::TopicPartition::destroy(parts);
  return out;
}

bool kafka_observer::committed_reached(const std::string& topic,
                                       const std::vector<int64_t>& ends) {
  std::vector<RdKafka::TopicPartition*> parts;
  for (size_t p = 0; p < ends.size(); ++p)
    parts.push_back(
      RdKafka::TopicPartition::create(topic, static_cast<int>(p)));
  bool ok = impl_->consumer->committed(parts, 5000) == RdKafka::ERR_NO_ERROR;
  for (size_t p = 0; ok && p < ends.size(); ++p)
    ok = parts[p]->offset() >= ends[p];
  RdKafka::TopicPartition::destroy(parts);
  return ok;
}

std::map<int32_t, int64_t> high_watermarks(const std::string& bootstrap,
                                           const std::string& topic) {
  return kafka_observer{bootstrap, "cotflow-test-reader"}.high_watermarks(
    topic);
}

std::vector<consumed> read_topic(const std::string& bootstrap,
                                 const std::string& topic) {
  auto highs = high_watermarks(bootstrap, topic);
  auto conf = consumer_conf(bootstrap);
  std::string err;
  conf->set("group.id", "cotflow-test-reader", err);
  conf->set("enable.auto.commit", "false", err);
  conf->set("enable.partition.eof", "false", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c{
    RdKafka::KafkaConsumer::create(conf.get(), err)};
  std::vector<RdKafka::TopicPartition*> parts;
  std::map<int32_t, int64_t> pos;
  for (auto& [p, hi] : highs) {
    if (hi > 0) {
      parts.push_back(RdKafka::TopicPartition::create(
        topic, p, RdKafka::Topic::OFFSET_BEGINNING));
      pos[p] = 0;
    }
  }
  std::vector<consumed> out;
  if (parts.empty())
    return out;
  c->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  auto done = [&] {
    for (auto& [p, o] : pos)
      if (o < highs[p])
        return false;
    return true;
  };
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("reading " + topic + " timed out");
    std::unique_ptr<RdKafka::Message> m{c->consume(200)};
    if (m->err() != RdKafka::ERR_NO_ERROR)
      continue;
    consumed r;
    r.partition = m->partition();
    r.offset = m->offset();
    if (m->key())
      r.key = *m->key();
    r.payload.assign(static_cast<const char*>(m->payload()), m->len());
    if (auto h = m->headers())
      for (auto& hd : h->get_all())
        r.headers[hd.key()] = std::string{static_cast<const char*>(hd.value()),
                                          hd.value_size()};
    pos[r.partition] = r.offset + 1;
    out.push_back(std::move(r));
  }
  c->close();
  return out;
}

std::map<int32_t, int64_t> committed(const std::string& bootstrap,
                                     const std::string& group,
                                     const std::string& topic) {
  return kafka_observer{bootstrap, group}.committed(topic);
}

struct topic_tail::impl {
  std::string bootstrap;
  std::vector<std::string> topics;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::mutex mtx;
  std::map<std::string, std::map<uint64_t, int>> seqs;
  std::map<std::pair<std::string, int32_t>, int64_t> pos;
  std::atomic<bool> stop{false};
  std::thread thread;
  uint64_t gaps = 0;

  void loop() {
    while (!stop) {
      std::unique_ptr<RdKafka::Message> m{consumer->consume(50)};
      if (m->err() != RdKafka::ERR_NO_ERROR)
        continue;
      std::string payload{static_cast<const char*>(m->payload()), m->len()};
      std::lock_guard<std::mutex> guard{mtx};
      auto& last = pos[{m->topic_name(), m->partition()}];
      if (m->offset() != last)
        gaps += static_cast<uint64_t>(m->offset() - last);
      if (auto seq = seq_of(payload))
        seqs[m->topic_name()][*seq] += 1;
      pos[{m->topic_name(), m->partition()}] = m->offset() + 1;
    }
  }
};

topic_tail::topic_tail(const std::string& bootstrap,
                       const std::vector<std::string>& topics)
  : impl_(new impl) {
  impl_->bootstrap = bootstrap;
  impl_->topics = topics;
  auto conf = consumer_conf(bootstrap);
  std::string err;
  conf->set("group.id", "cotflow-test-tail", err);
  conf->set("auto.offset.reset", "earliest", err);
  conf->set("enable.auto.commit", "false", err);
  impl_->consumer.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  std::vector<RdKafka::TopicPartition*> parts;
  for (auto& t : topics)
    for (auto& [p, hi] : high_watermarks(bootstrap, t))
      parts.push_back(RdKafka::TopicPartition::create(
        t, p, RdKafka::Topic::OFFSET_BEGINNING));
  impl_->consumer->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  impl_->thread = std::thread{[this] { impl_->loop(); }};
}

topic_tail::~topic_tail() {
  impl_->stop = true;
  if (impl_->thread.joinable())
    impl_->thread.join();
  impl_->consumer->close();
  delete impl_;
}

std::map<std::string, std::map<uint64_t, int>> topic_tail::finish() {
  std::map<std::pair<std::string, int32_t>, int64_t> highs;
  for (auto& t : impl_->topics)
    for (auto& [p, hi] : high_watermarks(impl_->bootstrap, t))
      highs[{t, p}] = hi;
  auto caught_up = [&] {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    for (auto& [tp, hi] : highs)
      if (hi > 0 && impl_->pos[tp] < hi)
        return false;
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
  while (!caught_up() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  impl_->stop = true;
  impl_->thread.join();
  gaps_ = impl_->gaps;
  return impl_->seqs;
}

} // namespace cotflow::test
