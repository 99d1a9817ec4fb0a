#pragma once

#include <optional>
#include <string>

namespace cotflow {

/// Whether `path` opens for appending as the file sink opens it
/// (`fopen(path, "a")`: write-only, appending, created when missing),
/// without writing to it and without leaving a file that did not exist:
/// nothing, or why not ("cannot open PATH for appending: REASON").
std::optional<std::string> check_appendable(const std::string& path);

} // namespace cotflow
