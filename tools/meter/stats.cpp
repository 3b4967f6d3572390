#include "stats.hpp"

#include <algorithm>
#include <cmath>

namespace spiceflow::meter {

int64_t VsyncTicks::tick_of(int64_t t_us) const {
  const int64_t scaled = t_us * hz_;
  // Floor division, so an instant just before the start is tick -1, not 0.
  return scaled >= 0 ? scaled / 1000000 : -((-scaled + 999999) / 1000000);
}

bool VsyncTicks::add(int64_t t_us) {
  ++updates_;
  const int64_t tick = tick_of(t_us);
  if (last_tick_ && *last_tick_ == tick) return false;
  last_tick_ = tick;
  ++frames_;
  return true;
}

std::optional<double> percentile(std::vector<double> values, double p) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(p / 100.0 * double(values.size()));
  const size_t index = size_t(std::clamp(rank, 1.0, double(values.size()))) - 1;
  return values[index];
}

bool LatencyRecorder::offer(const pixel_code::Stamp& stamp, uint32_t now_us) {
  // Ids increase by one per frame and wrap at 2^32: "newer" is a positive difference.
  if (newest_id_ && int32_t(stamp.frame_id - *newest_id_) <= 0) {
    ++repeats_;
    return false;
  }
  newest_id_ = stamp.frame_id;
  samples_ms_.push_back(double(pixel_code::elapsed_us(stamp.time_us, now_us)) / 1000.0);
  return true;
}

std::optional<LatencySummary> LatencyRecorder::summary() const {
  if (samples_ms_.empty()) return std::nullopt;
  LatencySummary s;
  s.p50_ms = *percentile(samples_ms_, 50);
  s.p95_ms = *percentile(samples_ms_, 95);
  s.p99_ms = *percentile(samples_ms_, 99);
  s.max_ms = *std::max_element(samples_ms_.begin(), samples_ms_.end());
  s.samples = samples_ms_.size();
  return s;
}

}  // namespace spiceflow::meter
