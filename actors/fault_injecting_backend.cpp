#include "actors/fault_injecting_backend.hpp"

#include <string>

namespace kvactor {
namespace {

class fault_injecting_backend final : public backend {
 public:
  fault_injecting_backend(std::unique_ptr<backend> inner, std::shared_ptr<fault_plan> plan)
      : inner_(std::move(inner)), plan_(std::move(plan)) {}
  std::string name() const override { return "fault-injecting(" + inner_->name() + ")"; }
  const model_config& config() const override { return inner_->config(); }
  kv_layout layout() const override { return inner_->layout(); }
  int host_threads() const override { return inner_->host_threads(); }
  std::vector<sequence_result> step(const std::vector<sequence_step>& batch) override {
    auto n = plan_->steps.fetch_add(1);
    if (n == plan_->fail_at_step.load()) throw backend_error("injected device fault at step " + std::to_string(n));
    return inner_->step(batch);
  }

 private:
  std::unique_ptr<backend> inner_;
  std::shared_ptr<fault_plan> plan_;
};

}  // namespace

std::unique_ptr<backend> make_fault_injecting_backend(std::unique_ptr<backend> inner,
                                                      std::shared_ptr<fault_plan> plan) {
  return std::make_unique<fault_injecting_backend>(std::move(inner), std::move(plan));
}

}  // namespace kvactor
