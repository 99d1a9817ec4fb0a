#include "pipeline/load/publisher.hpp"

#include "pipeline/core/time.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>

namespace cotflow {

std::unique_ptr<record_publisher>
record_publisher::make(const kafka_properties& props, std::string& err,
                       RdKafka::DeliveryReportCb* reports) {
  std::unique_ptr<RdKafka::Conf> conf{
    RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL)};
  for (auto& [k, v] : props)
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      err = "property " + k + ": " + err;
      return nullptr;
    }
  if (reports && conf->set("dr_cb", reports, err) != RdKafka::Conf::CONF_OK)
    return nullptr;
  std::unique_ptr<RdKafka::Producer> p{
    RdKafka::Producer::create(conf.get(), err)};
  if (!p)
    return nullptr;
  return std::unique_ptr<record_publisher>{new record_publisher{std::move(p)}};
}

record_publisher::record_publisher(std::unique_ptr<RdKafka::Producer> p)
  : producer_(std::move(p)) {}

record_publisher::~record_publisher() = default;

bool record_publisher::send(const std::string& topic, std::string_view key,
                            std::string_view payload, int64_t timestamp_ms,
                            std::string& err, void* opaque) {
  for (;;) {
    switch (try_send(topic, key, payload, timestamp_ms, err, opaque)) {
      case outcome::queued:
        return true;
      case outcome::failed:
        return false;
      case outcome::queue_full:
        producer_->poll(5);
    }
  }
}

record_publisher::outcome
record_publisher::try_send(const std::string& topic, std::string_view key,
                           std::string_view payload, int64_t timestamp_ms,
                           std::string& err, void* opaque) {
  auto rc = producer_->produce(
    topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
    const_cast<char*>(payload.data()), payload.size(), key.data(), key.size(),
    timestamp_ms, opaque);
  if (rc == RdKafka::ERR_NO_ERROR)
    return outcome::queued;
  if (rc == RdKafka::ERR__QUEUE_FULL)
    return outcome::queue_full;
  err = RdKafka::err2str(rc);
  return outcome::failed;
}

void record_publisher::poll(int timeout_ms) {
  producer_->poll(timeout_ms);
}

bool record_publisher::flush(int timeout_ms) {
  return producer_->flush(timeout_ms) == RdKafka::ERR_NO_ERROR;
}

detection_publisher::detection_publisher(options opts)
  : opts_(std::move(opts)) {}

detection_publisher::~detection_publisher() {
  stop();
}

bool detection_publisher::start(std::string& err) {
  producer_ = record_publisher::make({{"bootstrap.servers", opts_.brokers},
                                      {"client.id", opts_.client_id},
                                      {"linger.ms", "5"}},
                                     err);
  if (!producer_)
    return false;
  thread_ = std::thread{[this] { loop(); }};
  return true;
}

void detection_publisher::stop() {
  stop_ = true;
  if (thread_.joinable())
    thread_.join();
  // Once: demo and loadgen stop it, and so does the destructor.
  if (producer_) {
    producer_->flush(5000);
    producer_.reset();
  }
}

void detection_publisher::loop() {
  detection_generator gen{opts_.generator};
  generated_record rec;
  auto start = std::chrono::steady_clock::now();
  auto rate = static_cast<double>(opts_.rate);
  auto count = static_cast<uint64_t>(opts_.count);
  uint64_t sent = 0;
  std::string err;
  while (!stop_ && (count == 0 || sent < count)) {
    auto elapsed = std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - start)
                     .count();
    auto due = opts_.rate == 0 ? sent + 1
                               : static_cast<uint64_t>(elapsed * rate);
    if (sent >= due) {
      std::this_thread::sleep_for(std::chrono::milliseconds{2});
      producer_->poll(0);
      continue;
    }
    gen.next(rec, now_ms());
    auto done = producer_->try_send(opts_.topic, rec.key, rec.payload, 0, err);
    if (done == record_publisher::outcome::queue_full) {
      // Serve delivery reports, then look at stop_ again: a dead broker
      // must not hold a stop until librdkafka expires the queue. The
      // record is generated anew (the next seq).
      producer_->poll(10);
      continue;
    }
    // A failed produce (not a full queue) loses that record, as a sensor
    // gateway would, and counts like a queued one, so that a count ends.
    published_ = ++sent;
    producer_->poll(0);
  }
  finished_ = true;
}

} // namespace cotflow
