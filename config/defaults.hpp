#pragma once

/// Fixed settings that are not configuration keys. The default of every
/// key is declared with the key, in the table of config/keys.cpp (read it
/// through `default_config()`), never here.
namespace cotflow::defaults {

/// SO_SNDBUF of a TAK connection: caps what the kernel holds unsent, which
/// tak.replay_bytes must cover.
inline constexpr int tak_send_buffer_bytes = 1024 * 1024;

} // namespace cotflow::defaults
