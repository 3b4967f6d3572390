#pragma once
/// The Engine owns every Desktop of a process and one scheduler thread that ticks each
/// desktop at its frame rate; the desktops' pipelines run on one shared oneTBB arena.
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "spiceflow/engine/desktop.hpp"

namespace spiceflow::engine {

class Engine {
 public:
  Engine() = default;
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Adds a desktop (before start()).
  void add(std::unique_ptr<Desktop> desktop);
  Desktop& desktop(size_t i) { return *desktops_[i]; }
  size_t size() const { return desktops_.size(); }

  /// Starts the scheduler thread.
  void start();
  /// Stops the scheduler and waits for in-flight passes.
  void stop();

 private:
  void run();
  std::vector<std::unique_ptr<Desktop>> desktops_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace spiceflow::engine
