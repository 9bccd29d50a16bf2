#include "http/fenced_service.hpp"

#include <algorithm>
#include <utility>

namespace kvactor::http {

namespace {

template <class Arg>
class callback_slot final : public fenced_service::slot {
 public:
  explicit callback_slot(std::function<void(Arg)> fn) : fn_(std::move(fn)) {}
  void call(Arg arg) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (fn_) fn_(std::forward<Arg>(arg));
  }
  void clear() override {
    std::function<void(Arg)> gone;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      gone.swap(fn_);
    }
    // `gone` (and every connection it held) is destroyed here, outside the lock.
  }

 private:
  std::mutex mutex_;
  std::function<void(Arg)> fn_;
};

}  // namespace

bool fenced_service::enlist(const std::shared_ptr<slot>& s) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (severed_) return false;
  if (slots_.size() >= prune_at_) {
    slots_.erase(std::remove_if(slots_.begin(), slots_.end(), [](const auto& w) { return w.expired(); }), slots_.end());
    prune_at_ = std::max<std::size_t>(64, 2 * slots_.size());
  }
  slots_.push_back(s);
  return true;
}

std::string fenced_service::submit(generation_request req, generation_callback cb) {
  auto s = std::make_shared<callback_slot<const generation_event&>>(std::move(cb));
  if (!enlist(s)) s->clear();
  return inner_.submit(std::move(req), [s](const generation_event& ev) { s->call(ev); });
}

void fenced_service::inspect(const std::string& what, std::function<void(std::string json)> cb) {
  auto s = std::make_shared<callback_slot<std::string>>(std::move(cb));
  if (!enlist(s)) s->clear();
  inner_.inspect(what, [s](std::string json) { s->call(std::move(json)); });
}

void fenced_service::sever() {
  std::vector<std::shared_ptr<slot>> live;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    severed_ = true;
    for (auto& w : slots_)
      if (auto s = w.lock()) live.push_back(std::move(s));
    slots_.clear();
  }
  for (auto& s : live) s->clear();
}

}  // namespace kvactor::http
