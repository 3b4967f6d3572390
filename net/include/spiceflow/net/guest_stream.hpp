#pragma once
/// A video stream the guest encodes itself (spice-streaming-agent writing to the
/// org.spice-space.stream.0 port) on its way to clients, served as an extra display
/// channel (SPICE_CHANNEL_DISPLAY, id GuestStream::channel_id()), as the reference's
/// StreamChannel: each client gets a primary surface the size of the stream, a
/// STREAM_CREATE covering it, and every frame as STREAM_DATA, already encoded. The agent's
/// cursor is served as cursor channel channel_id() (as the reference's extra cursor channel).
///
/// The host (compat/: StreamPort) parses the device and calls the host side below; the
/// channels run on the server's loop thread and read the net side. Frames are never dropped
/// (the codecs are inter-frame): each client reads the stream's items in order, and the host
/// stops reading its device while the slowest client is kMaxQueuedFrames behind
/// (has_room(); Hooks::room says when to read again), so the guest's agent waits instead.
/// A client that joins gets the current format at once and then every later item; the
/// host is told (Hooks::clients) so it can ask the agent for a new stream (a keyframe).
///
/// Threading: every method may be called from any thread (one mutex); the hooks run on the
/// loop thread, outside that mutex, and must not block.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "spiceflow/engine/desktop.hpp"

namespace spiceflow::net {

class GuestStream {
 public:
  /// Frames a client may be behind before the host stops reading its device: about a
  /// quarter second at 30 fps, enough to ride out one slow socket write without making
  /// the agent wait on every frame.
  static constexpr size_t kMaxQueuedFrames = 8;
  /// ... or once this many bytes of frames wait: the guest is not trusted, and 8 frames at
  /// the protocol's 32 MiB limit would hold 256 MiB here; real frames are far smaller (a
  /// 4K H.264 keyframe is a few MiB), so this only bounds a hostile agent.
  static constexpr size_t kMaxQueuedBytes = 64 * 1024 * 1024;

  struct Format {
    uint8_t codec = 0;  ///< a SPICE_VIDEO_CODEC_TYPE_* value
    uint32_t width = 0;
    uint32_t height = 0;
  };
  struct Item {
    enum Kind { format, frame, stop };
    Kind kind = frame;
    uint64_t seq = 0;
    Format fmt;  ///< format: the new stream's
    std::shared_ptr<const std::vector<uint8_t>> data;  ///< frame: one encoded frame
  };
  struct Hooks {
    /// The set of clients changed (one joined or left): the codecs every connected client
    /// decodes (MJPEG always, as the reference), empty when none is connected.
    std::function<void(std::vector<uint8_t> codecs)> clients;
    /// has_room() turned true again.
    std::function<void()> room;
  };

  explicit GuestStream(uint8_t channel_id) : channel_id_(channel_id) {}
  uint8_t channel_id() const { return channel_id_; }

  // ---- host side
  /// Replaced (not chained) by each call; empty hooks stop the calls.
  void set_hooks(Hooks hooks);
  /// A new stream starts (FORMAT from the agent): clients end the old one, resize their
  /// surface if the size changed, and create the new one.
  void set_format(const Format& fmt);
  /// One encoded frame of the current stream; dropped when no client is connected or no
  /// format was set. Returns has_room() after it.
  bool push_frame(std::vector<uint8_t> frame);
  /// The stream ended (device reset or closed): clients destroy it.
  void stop();
  /// The agent's cursor: a new shape (shown, at the last position) or a new position.
  void set_cursor_shape(std::shared_ptr<const CursorShape> shape);
  void move_cursor(Point pos);
  /// Whether every client is less than kMaxQueuedFrames frames (and kMaxQueuedBytes) behind.
  bool has_room() const;
  /// Clients connected now.
  size_t clients() const;

  // ---- net side (loop thread)
  /// A client joined, decoding `codecs`; returns its reader id. `current` is the format of
  /// the stream running now, if one is.
  uint64_t join(std::vector<uint8_t> codecs, std::optional<Format>* current);
  void leave(uint64_t reader);
  /// Up to `max` items the reader has not taken yet, in order; they count as taken.
  std::vector<Item> take(uint64_t reader, size_t max);
  /// Whether the reader has items waiting.
  bool pending(uint64_t reader) const;
  /// The cursor as last set (never null).
  std::shared_ptr<const engine::CursorState> cursor() const;
  /// Wakes the channels when items arrive or the cursor changes (set by the server; replaced by each call).
  void set_notifier(std::function<void()> notify);

 private:
  bool full_locked() const;
  void trim_locked();
  std::vector<uint8_t> codecs_locked() const;
  void append(Item item);
  void fire_clients();

  const uint8_t channel_id_;
  mutable std::mutex mu_;
  Hooks hooks_;                      // guarded by mu_
  std::function<void()> notify_;     // guarded by mu_
  std::optional<Format> format_;     // guarded by mu_: the running stream's
  std::vector<Item> items_;          // guarded by mu_: seq ascending, not taken by everyone
  uint64_t next_seq_ = 1;            // guarded by mu_
  struct Reader {
    uint64_t next = 0;               // the first seq not taken
    std::vector<uint8_t> codecs;
  };
  std::map<uint64_t, Reader> readers_;  // guarded by mu_
  uint64_t next_reader_ = 1;            // guarded by mu_
  std::shared_ptr<const engine::CursorState> cursor_ =
      std::make_shared<engine::CursorState>();  // guarded by mu_
  mutable bool was_full_ = false;       // guarded by mu_: has_room() said no
};

}  // namespace spiceflow::net
