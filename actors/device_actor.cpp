#include "actors/device_actor.hpp"

namespace kvactor {
namespace {

struct device_state {
  static inline const char* name = "device";
  std::shared_ptr<backend> be;
  std::string id;
  uint64_t handled = 0;  // the step statistics live in the scheduler (scheduling::step_statistics)
};

using device_pointer = device_actor::stateful_pointer<device_state>;

device_actor::behavior_type device_behavior(device_pointer self, std::shared_ptr<backend> be, std::string id) {
  self->state.be = std::move(be);
  self->state.id = std::move(id);
  // The actor still dies on a backend exception, but with an error that names it.
  self->set_exception_handler([](std::exception_ptr& eptr) -> caf::error {
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      return caf::make_error(engine_errc::device_error, e.what());
    } catch (...) {
      return caf::make_error(engine_errc::device_error, "unknown exception");
    }
  });
  return {
      // A backend exception escapes on purpose: the actor dies, the scheduler (which
      // monitors it) fails the step's requests and restarts the device.
      [self](step_atom, std::vector<sequence_step>& batch) -> std::vector<sequence_result> {
        auto& st = self->state;
        ++st.handled;
        return st.be->step(batch);
      },
      [self](inspect_atom) -> device_report {
        auto& st = self->state;
        ++st.handled;
        device_report r;
        r.head = {"device", st.id, "idle", st.handled, self->mailbox().size()};
        r.backend = st.be->name();
        return r;
      },
  };
}

}  // namespace

device_actor spawn_device(caf::actor_system& sys, std::shared_ptr<backend> be, std::string id, bool detached) {
  if (detached) return sys.spawn<caf::detached>(device_behavior, std::move(be), std::move(id));
  return sys.spawn(device_behavior, std::move(be), std::move(id));
}

}  // namespace kvactor
