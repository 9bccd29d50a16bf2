#include "actors/interfaces.hpp"

namespace kvactor {

engine_errc engine_code(const caf::error& err) {
  if (!err) return engine_errc::ok;
  if (err.category() != caf::detail::error_factory<engine_errc>::category) return engine_errc::internal;
  return static_cast<engine_errc>(err.code());
}

std::string engine_message(const caf::error& err) {
  const auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) return ctx.get_as<std::string>(0);
  return caf::to_string(err);
}

}  // namespace kvactor
