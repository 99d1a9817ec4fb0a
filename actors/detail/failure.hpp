#pragma once

#include <caf/fwd.hpp>

#include <exception>
#include <string>

/// How an actor's failure keeps its cause readable: CAF's default handler
/// turns any exception into `sec::runtime_error` and drops its text.
namespace cotflow::detail {

/// An exception handler for `set_exception_handler`: the actor fails with
/// `sec::runtime_error` carrying the exception's what().
caf::error exception_text(caf::scheduled_actor*, std::exception_ptr& x);

/// A runtime error carrying `why`, for an actor that quits on its own.
caf::error runtime_error(std::string why);

/// Why an actor ended, for logs and /supervision: the text its error
/// carries ("injected fault"), else CAF's rendering of the error.
std::string failure_text(const caf::error& reason);

} // namespace cotflow::detail
