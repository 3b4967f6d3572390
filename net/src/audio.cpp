#include "spiceflow/net/audio.hpp"

#include <spice/enums.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace spiceflow::net {

static_assert(uint16_t(AudioMode::raw) == SPICE_AUDIO_DATA_MODE_RAW);
static_assert(uint16_t(AudioMode::opus) == SPICE_AUDIO_DATA_MODE_OPUS);

std::string_view to_string(AudioMode mode) {
  switch (mode) {
    case AudioMode::raw:
      return "raw";
    case AudioMode::opus:
      return "opus";
  }
  return "?";
}

bool opus_supports(uint32_t hz) {
  return hz == 48000 || hz == 24000 || hz == 16000 || hz == 12000 || hz == 8000;
}

AudioMode choose_playback_mode(bool compression, uint32_t hz, bool client_has_opus) {
  return compression && client_has_opus && opus_supports(hz) ? AudioMode::opus : AudioMode::raw;
}

bool record_mode_acceptable(uint16_t mode, uint32_t hz) {
  return mode == SPICE_AUDIO_DATA_MODE_RAW ||
         (mode == SPICE_AUDIO_DATA_MODE_OPUS && opus_supports(hz));
}

// ---- AudioStream

void AudioStream::changed_locked() {
  if (wake_pending_ || !notifier_) return;
  wake_pending_ = true;
  notifier_();
}

void AudioStream::start() {
  std::lock_guard lock(mu_);
  ctl_.active = true;
  changed_locked();
}

void AudioStream::stop() {
  std::lock_guard lock(mu_);
  ctl_.active = false;
  changed_locked();
}

void AudioStream::set_volume(std::span<const uint16_t> volume) {
  std::lock_guard lock(mu_);
  ctl_.volume.assign(volume.begin(), volume.end());
  ++ctl_.volume_seq;
  changed_locked();
}

void AudioStream::set_mute(bool mute) {
  std::lock_guard lock(mu_);
  ctl_.mute = mute;
  ++ctl_.mute_seq;
  changed_locked();
}

void AudioStream::set_rate(uint32_t hz) {
  std::lock_guard lock(mu_);
  ctl_.rate = hz;
  if (opus_supports(hz)) ctl_.opus_offered = true;
  changed_locked();
}

bool AudioStream::client_connected() const {
  std::lock_guard lock(mu_);
  return clients_ > 0;
}

bool AudioStream::active() const {
  std::lock_guard lock(mu_);
  return ctl_.active;
}

AudioControl AudioStream::control() const {
  std::lock_guard lock(mu_);
  return ctl_;
}

void AudioStream::rearm() {
  std::lock_guard lock(mu_);
  wake_pending_ = false;
}

void AudioStream::set_notifier(std::function<void()> notifier) {
  std::lock_guard lock(mu_);
  notifier_ = std::move(notifier);
  wake_pending_ = false;
}

void AudioStream::client_linked() {
  std::lock_guard lock(mu_);
  ++clients_;
}

void AudioStream::client_unlinked() {
  std::lock_guard lock(mu_);
  assert(clients_ > 0);
  if (--clients_ == 0) last_client_gone_locked();
}

// ---- PlaybackStream

bool PlaybackStream::put(std::span<const uint32_t> samples) {
  assert(samples.size() == kAudioFrameSamples);
  Frame f;
  f.samples.assign(samples.begin(), samples.end());
  f.put_at = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  if (!ctl_.active || clients_ == 0) return false;
  if (queue_.size() >= kPlaybackQueueFrames) {
    queue_.pop_front();
    ++stats_.frames_dropped;
  }
  queue_.push_back(std::move(f));
  ++stats_.frames_put;
  changed_locked();
  return true;
}

void PlaybackStream::set_compression(bool on) {
  std::lock_guard lock(mu_);
  ctl_.compression = on;
  changed_locked();
}

void PlaybackStream::set_latency(uint32_t ms) {
  std::lock_guard lock(mu_);
  ctl_.latency_ms = ms;
  ++ctl_.latency_seq;
  changed_locked();
}

PlaybackStream::Stats PlaybackStream::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool PlaybackStream::pop(Frame& out) {
  std::lock_guard lock(mu_);
  if (queue_.empty()) return false;
  out = std::move(queue_.front());
  queue_.pop_front();
  ++stats_.frames_sent;
  return true;
}

void PlaybackStream::clear() {
  std::lock_guard lock(mu_);
  queue_.clear();
}

// ---- RecordStream

void RecordStream::start() {
  {
    std::lock_guard lock(mu_);
    write_pos_ = read_pos_ = 0;
  }
  AudioStream::start();
}

size_t RecordStream::read(std::span<uint32_t> out) {
  std::lock_guard lock(mu_);
  if (write_pos_ < kRecordRingSamples / 2) return 0;
  const size_t n = size_t(std::min<uint64_t>(write_pos_ - read_pos_, out.size()));
  const size_t at = size_t(read_pos_ % kRecordRingSamples);
  const size_t first = std::min(n, kRecordRingSamples - at);
  std::memcpy(out.data(), ring_.data() + at, first * sizeof(uint32_t));
  std::memcpy(out.data() + first, ring_.data(), (n - first) * sizeof(uint32_t));
  read_pos_ += n;
  stats_.samples_read += n;
  return n;
}

RecordStream::Stats RecordStream::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void RecordStream::write(std::span<const uint32_t> samples) {
  std::lock_guard lock(mu_);
  stats_.samples_received += samples.size();
  // Only the newest kRecordRingSamples of a (huge) write can survive.
  if (samples.size() > kRecordRingSamples) {
    const size_t skip = samples.size() - kRecordRingSamples;
    write_pos_ += skip;
    samples = samples.subspan(skip);
  }
  const size_t at = size_t(write_pos_ % kRecordRingSamples);
  const size_t first = std::min(samples.size(), kRecordRingSamples - at);
  std::memcpy(ring_.data() + at, samples.data(), first * sizeof(uint32_t));
  std::memcpy(ring_.data(), samples.data() + first, (samples.size() - first) * sizeof(uint32_t));
  write_pos_ += samples.size();
  if (write_pos_ - read_pos_ > kRecordRingSamples) {
    const uint64_t lost = write_pos_ - kRecordRingSamples - read_pos_;
    stats_.samples_dropped += lost;
    read_pos_ = write_pos_ - kRecordRingSamples;
  }
}

}  // namespace spiceflow::net
