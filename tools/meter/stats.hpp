#pragma once
/// The meter's counting: display updates grouped into 60 Hz vsync ticks (the frames a
/// client would paint), end-to-end latencies from pixel codes, and percentiles.
/// Plain data, single-threaded (the GLib main loop thread uses it).
#include <cstdint>
#include <optional>
#include <vector>

#include "spiceflow/core/pixel_code.hpp"

namespace spiceflow::meter {

/// Counts the vsync ticks (of `hz`, 60 by default) in which at least one display update
/// landed. Updates must be added in time order.
class VsyncTicks {
 public:
  explicit VsyncTicks(int hz = 60) : hz_(hz) {}
  /// An update `t_us` microseconds after the start. Returns true when it is the first
  /// update of its tick (a new frame).
  bool add(int64_t t_us);
  uint64_t frames() const { return frames_; }
  uint64_t updates() const { return updates_; }
  /// The tick of an instant: floor(t_us * hz / 1e6) (negative times round down too).
  int64_t tick_of(int64_t t_us) const;

 private:
  int hz_;
  uint64_t frames_ = 0;
  uint64_t updates_ = 0;
  std::optional<int64_t> last_tick_;
};

/// The nearest-rank percentile (p in (0, 100]) of `values`: the smallest value such that at
/// least p% of the values are <= it. nullopt for an empty set. `values` need not be sorted.
std::optional<double> percentile(std::vector<double> values, double p);

struct LatencySummary {
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  uint64_t samples = 0;
};

/// End-to-end latency from pixel codes read off the client's picture: one sample per new
/// frame id (a code seen again, or an older one, is not a new frame).
class LatencyRecorder {
 public:
  /// A code read at `now_us` (pixel_code::now_us()). Returns true when it was a new frame
  /// and its latency was recorded.
  bool offer(const pixel_code::Stamp& stamp, uint32_t now_us);
  /// Codes read that were not new (repaints of a frame already counted).
  uint64_t repeats() const { return repeats_; }
  const std::vector<double>& samples_ms() const { return samples_ms_; }
  /// nullopt when no code was ever read.
  std::optional<LatencySummary> summary() const;

 private:
  std::optional<uint32_t> newest_id_;
  uint64_t repeats_ = 0;
  std::vector<double> samples_ms_;
};

}  // namespace spiceflow::meter
