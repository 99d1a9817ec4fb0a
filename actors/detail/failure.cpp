#include "actors/detail/failure.hpp"

#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/sec.hpp>

namespace cotflow::detail {

caf::error exception_text(caf::scheduled_actor*, std::exception_ptr& x) {
  try {
    std::rethrow_exception(x);
  } catch (const std::exception& e) {
    return runtime_error(e.what());
  } catch (...) {
    return runtime_error("unknown exception");
  }
}

caf::error runtime_error(std::string why) {
  return caf::make_error(caf::sec::runtime_error, std::move(why));
}

std::string failure_text(const caf::error& reason) {
  auto& ctx = reason.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return caf::to_string(reason);
}

} // namespace cotflow::detail
