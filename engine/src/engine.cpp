#include "spiceflow/engine/engine.hpp"

#include <algorithm>
#include <chrono>

namespace spiceflow::engine {

Engine::~Engine() { stop(); }

void Engine::add(std::unique_ptr<Desktop> desktop) { desktops_.push_back(std::move(desktop)); }

void Engine::start() {
  if (running_.exchange(true)) return;
  thread_ = std::thread([this] { run(); });
}

void Engine::stop() {
  if (!running_.exchange(false)) return;
  if (thread_.joinable()) thread_.join();
  for (auto& d : desktops_) d->wait_idle();
}

void Engine::run() {
  using clock = std::chrono::steady_clock;
  // One deadline per desktop; the thread sleeps until the earliest one. A desktop whose
  // previous pass is still running skips the tick (Desktop::tick returns false).
  std::vector<clock::time_point> next(desktops_.size(), clock::now());
  while (running_.load()) {
    const auto now = clock::now();
    for (size_t i = 0; i < desktops_.size(); ++i) {
      if (now < next[i]) continue;
      desktops_[i]->scheduled_tick();
      const auto period = std::chrono::nanoseconds(1'000'000'000LL / std::max(1, desktops_[i]->fps()));
      next[i] += period;
      if (next[i] < now) next[i] = now + period;  // fell behind: don't try to catch up
    }
    auto wake = *std::min_element(next.begin(), next.end());
    // Wake at least every 50 ms so stop() is prompt.
    wake = std::min(wake, clock::now() + std::chrono::milliseconds(50));
    std::this_thread::sleep_until(wake);
  }
}

}  // namespace spiceflow::engine
