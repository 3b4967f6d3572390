// spice_server_playback_* and spice_server_record_*: the host's audio devices (QEMU's
// -audiodev spice) onto net's playback and record channels. Each instance's stream is
// handed to the net::Server, which serves it on its loop thread; these calls come from the
// host's audio thread or main loop and only take the stream's short lock (frames are
// copied into a bounded queue, recorded samples are copied out of a bounded ring).
//
// Semantics follow the reference's sound.cpp: get_buffer lends a frame of
// kAudioFrameSamples (SND_CODEC_MAX_FRAME_SIZE, 480) samples only while a client's playback
// channel is connected (NULL / 0 otherwise, so the host drops its audio); put_samples sends
// the frame stamped with the multimedia time; record_get_samples returns what the client
// sent, oldest first, after the reference's pre-buffering; both rates default to 48 kHz,
// and Opus is offered once the host sets a rate Opus supports.
#include <algorithm>
#include <span>

#include "abi.hpp"
#include "reds.hpp"
#include "spiceflow/core/log.hpp"

using namespace spiceflow;

namespace spiceflow::compat {

namespace {

// The served instance is the newest one registered (QEMU registers one of each).
void serve_newest_playback(RedsState* s) {
  if (!s->server) return;
  s->server->set_playback(s->playbacks.empty() ? nullptr : s->playbacks.back()->stream);
}

void serve_newest_record(RedsState* s) {
  if (!s->server) return;
  s->server->set_record(s->records.empty() ? nullptr : s->records.back()->stream);
}

}  // namespace

int add_playback(RedsState* s, SpicePlaybackInstance* sin) {
  auto st = std::make_unique<SpicePlaybackState>();
  st->reds = s;
  st->instance = sin;
  st->stream->set_compression(s->playback_compression);
  sin->st = st.get();
  s->playbacks.push_back(std::move(st));
  serve_newest_playback(s);
  return 0;
}

int remove_playback(SpicePlaybackInstance* sin) {
  if (!sin->st) return -1;
  RedsState* s = sin->st->reds;
  SpicePlaybackState* st = sin->st;
  sin->st = nullptr;
  std::erase_if(s->playbacks, [st](const auto& p) { return p.get() == st; });
  serve_newest_playback(s);
  return 0;
}

int add_record(RedsState* s, SpiceRecordInstance* sin) {
  auto st = std::make_unique<SpiceRecordState>();
  st->reds = s;
  st->instance = sin;
  sin->st = st.get();
  s->records.push_back(std::move(st));
  serve_newest_record(s);
  return 0;
}

int remove_record(SpiceRecordInstance* sin) {
  if (!sin->st) return -1;
  RedsState* s = sin->st->reds;
  SpiceRecordState* st = sin->st;
  sin->st = nullptr;
  std::erase_if(s->records, [st](const auto& r) { return r.get() == st; });
  serve_newest_record(s);
  return 0;
}

void set_playback_compression(RedsState* s, bool on) {
  for (auto& p : s->playbacks) p->stream->set_compression(on);
}

}  // namespace spiceflow::compat

// ---- playback

SPICEFLOW_EXPORT void spice_server_playback_start(SpicePlaybackInstance* sin) {
  if (sin && sin->st) sin->st->stream->start();
}

SPICEFLOW_EXPORT void spice_server_playback_stop(SpicePlaybackInstance* sin) {
  if (sin && sin->st) sin->st->stream->stop();
}

SPICEFLOW_EXPORT void spice_server_playback_get_buffer(SpicePlaybackInstance* sin,
                                                       uint32_t** samples,
                                                       uint32_t* num_samples) {
  *samples = nullptr;
  *num_samples = 0;
  if (!sin || !sin->st) return;
  SpicePlaybackState& st = *sin->st;
  // As the reference: nothing to fill while no client listens (or the device is stopped).
  if (!st.stream->client_connected() || !st.stream->active()) return;
  auto it = std::find_if(st.frames.begin(), st.frames.end(), [](const auto& f) { return !f.lent; });
  if (it == st.frames.end()) return;  // the host holds every frame already
  it->lent = true;
  *samples = it->samples.data();
  *num_samples = net::kAudioFrameSamples;
}

SPICEFLOW_EXPORT void spice_server_playback_put_samples(SpicePlaybackInstance* sin,
                                                        uint32_t* samples) {
  if (!sin || !sin->st || !samples) return;
  SpicePlaybackState& st = *sin->st;
  auto it = std::find_if(st.frames.begin(), st.frames.end(),
                         [samples](const auto& f) { return f.samples.data() == samples; });
  if (it == st.frames.end() || !it->lent) {
    st.reds->once.warn("spice_server_playback_put_samples",
                       "a buffer that spice_server_playback_get_buffer did not lend; ignored");
    return;
  }
  it->lent = false;
  // Dropped when the client left or the device stopped meanwhile (the reference drops
  // frames of a client that is gone too).
  (void)st.stream->put(it->samples);
}

SPICEFLOW_EXPORT void spice_server_playback_set_volume(SpicePlaybackInstance* sin,
                                                       uint8_t nchannels, uint16_t* volume) {
  if (!sin || !sin->st || (nchannels && !volume)) return;
  sin->st->stream->set_volume(std::span<const uint16_t>(volume, nchannels));
}

SPICEFLOW_EXPORT void spice_server_playback_set_mute(SpicePlaybackInstance* sin, uint8_t mute) {
  if (sin && sin->st) sin->st->stream->set_mute(mute != 0);
}

SPICEFLOW_EXPORT uint32_t spice_server_get_best_playback_rate(SpicePlaybackInstance* sin) {
  // QEMU asks with sin == NULL, before registering. The reference's answer: Opus's rate.
  return net::kDefaultAudioRate;
}

SPICEFLOW_EXPORT void spice_server_set_playback_rate(SpicePlaybackInstance* sin,
                                                     uint32_t frequency) {
  if (sin && sin->st) sin->st->stream->set_rate(frequency);
}

// ---- record

SPICEFLOW_EXPORT void spice_server_record_start(SpiceRecordInstance* sin) {
  if (sin && sin->st) sin->st->stream->start();
}

SPICEFLOW_EXPORT void spice_server_record_stop(SpiceRecordInstance* sin) {
  if (sin && sin->st) sin->st->stream->stop();
}

SPICEFLOW_EXPORT uint32_t spice_server_record_get_samples(SpiceRecordInstance* sin,
                                                          uint32_t* samples, uint32_t bufsize) {
  if (!sin || !sin->st || !samples) return 0;
  return uint32_t(sin->st->stream->read(std::span<uint32_t>(samples, bufsize)));
}

SPICEFLOW_EXPORT void spice_server_record_set_volume(SpiceRecordInstance* sin, uint8_t nchannels,
                                                     uint16_t* volume) {
  if (!sin || !sin->st || (nchannels && !volume)) return;
  sin->st->stream->set_volume(std::span<const uint16_t>(volume, nchannels));
}

SPICEFLOW_EXPORT void spice_server_record_set_mute(SpiceRecordInstance* sin, uint8_t mute) {
  if (sin && sin->st) sin->st->stream->set_mute(mute != 0);
}

SPICEFLOW_EXPORT uint32_t spice_server_get_best_record_rate(SpiceRecordInstance* sin) {
  return net::kDefaultAudioRate;
}

SPICEFLOW_EXPORT void spice_server_set_record_rate(SpiceRecordInstance* sin, uint32_t frequency) {
  if (sin && sin->st) sin->st->stream->set_rate(frequency);
}
