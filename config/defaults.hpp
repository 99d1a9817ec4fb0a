#pragma once

#include <cstdint>

/// Every default of cotflow, once. `deploy/cotflow.yaml` documents them.
namespace cotflow::defaults {

/// Kafka bootstrap servers; "embedded" starts the in-process mock broker.
inline constexpr const char* brokers = "localhost:9092";
inline constexpr const char* group_id = "cotflow";
inline constexpr const char* client_id = "cotflow";
inline constexpr const char* input_topic = "detections";
inline constexpr const char* output_topic = "cot";
inline constexpr const char* dead_letter_topic = "cot-dead-letter";

inline constexpr int64_t batch_size = 50;
inline constexpr int64_t batch_age_ms = 100;
/// Records dispatched but not yet acknowledged, across all partitions.
inline constexpr int64_t max_in_flight = 10000;
/// 0 means one encoder per usable CPU (see usable_cpus()).
inline constexpr int64_t encoders = 0;
inline constexpr int64_t commit_interval_ms = 1000;
inline constexpr int64_t max_record_bytes = 64 * 1024;
inline constexpr int64_t drain_timeout_ms = 10000;
inline constexpr int64_t poll_timeout_ms = 5;

inline constexpr const char* default_type = "a-u-G";
inline constexpr const char* how = "m-g";
inline constexpr int64_t stale_s = 120;
inline constexpr int64_t max_age_s = 3600;
inline constexpr double min_confidence = 0.0;
inline constexpr const char* low_confidence = "drop";

inline constexpr int64_t tak_connect_timeout_ms = 5000;
inline constexpr int64_t tak_write_timeout_ms = 10000;
inline constexpr int64_t tak_reconnect_min_ms = 1000;
inline constexpr int64_t tak_reconnect_max_ms = 60000;
inline constexpr int64_t tak_healthy_after_ms = 30000;
inline constexpr int64_t tak_write_bytes = 64 * 1024;
/// Covers our capped send buffer plus what a server's receive buffer may
/// hold unread when it dies.
inline constexpr int64_t tak_replay_bytes = 8 * 1024 * 1024;
inline constexpr int tak_send_buffer_bytes = 1024 * 1024;
inline constexpr int64_t tak_ping_interval_ms = 15000;
inline constexpr int64_t tak_ping_timeout_ms = 10000;
/// Events one destination holds in memory before it spills to parking.
inline constexpr int64_t tak_queue_events = 2000;
inline constexpr int64_t tak_breaker_failures = 5;
inline constexpr double tak_breaker_failure_rate = 0.5;
inline constexpr int64_t tak_breaker_window = 20;
inline constexpr int64_t tak_breaker_open_min_ms = 30000;
inline constexpr int64_t tak_breaker_open_max_ms = 300000;
inline constexpr int64_t tak_breaker_probes = 1;
inline constexpr const char* parking_topic = "cotflow.parking";

inline constexpr const char* http_address = "127.0.0.1:9180";
inline constexpr int64_t http_ready_timeout_ms = 30000;

inline constexpr int64_t supervision_max_restarts = 5;
inline constexpr int64_t supervision_window_ms = 10000;
inline constexpr int64_t supervision_backoff_min_ms = 100;
inline constexpr int64_t supervision_backoff_max_ms = 5000;

inline constexpr const char* log_level = "info";
inline constexpr const char* log_format = "json";

} // namespace cotflow::defaults
