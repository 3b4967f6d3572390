#pragma once
/// A Desktop is one display pipeline: a source of draw commands (a synthetic workload
/// today; QXL and replays later) run through a oneTBB flow graph
///   ingest -> render -> classify -> encode -> publish
/// that keeps the true picture in a raster backend's surface and publishes versioned,
/// immutable Frames: a map of tiles, each with its pixels, its lossless encodings and the
/// version that last changed it. Clients pull the newest Frame when they can send and
/// ship only tiles newer than what they already have, so a slow client gets fewer, fresher
/// updates and nothing queues up (memory per desktop: two surface copies plus encodings).
///
/// Threading: see engine/README.md. post_input(), latest(), subscribe() and the accessors
/// are thread-safe; the pipeline runs on the Engine's scheduler thread and TBB workers.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "spiceflow/core/draw.hpp"
#include "spiceflow/core/input.hpp"
#include "spiceflow/core/yuv.hpp"
#include "spiceflow/encode/image_encoder.hpp"
#include "spiceflow/encode/video_encoder.hpp"
#include "spiceflow/qxl/synthetic.hpp"

namespace spiceflow::engine {

/// One tile of the published picture. Immutable once published.
struct Tile {
  Rect rect;
  uint64_t version = 0;  ///< the frame version that last changed this tile
  /// True when every change to this tile in `version` came from the frame's `copies`: a
  /// client that holds version - 1 gets the tile by replaying them, not by its pixels.
  bool moved_only = false;
  /// The version of the tile this one replaced (0: none, e.g. a new surface).
  uint64_t base_version = 0;
  /// True when one of the frame's `copies` (of `version`) writes into this tile.
  bool copied_into = false;
  /// The part of `rect` that `version` painted, as a bounding box (empty when moved_only;
  /// the whole rect when the pass painted too many rectangles to follow). A client that
  /// holds `base_version` of this tile, and replayed this version's copies when
  /// `copied_into`, needs only these pixels: a new text line, not its whole tile row.
  Rect delta;
  std::shared_ptr<const Image> pixels;
  /// One encoding per codec (indexed by ImageCodec): made by the encode stage for the
  /// codecs in use when the tile changed (see Desktop::acquire_codec); null for the others
  /// and where the codec declined. Raw is never made here: it is the pixels, packed.
  std::array<std::shared_ptr<const encode::EncodedImage>, encode::kImageCodecCount> encoded;
  /// The same object as encoding(lz4) (kept for callers that predate the other codecs).
  std::shared_ptr<const encode::EncodedImage> lz4;

  /// Encodings of `delta` alone, like `encoded`; made only when delta is smaller than rect.
  std::array<std::shared_ptr<const encode::EncodedImage>, encode::kImageCodecCount> delta_encoded;

  const std::shared_ptr<const encode::EncodedImage>& encoding(encode::ImageCodec c) const {
    return encoded[size_t(c)];
  }
  const std::shared_ptr<const encode::EncodedImage>& delta_encoding(encode::ImageCodec c) const {
    return delta_encoded[size_t(c)];
  }
  /// Whether a delta smaller than the tile exists (see `delta`).
  bool has_delta() const { return !moved_only && !delta.empty() && delta != rect; }
};

/// Whether the classify stage looks for video regions (`--streaming-video`, the
/// reference's values): off = never; filter = regions whose changes look like video
/// (they repaint most of each tile); all = any region that changes at a steady rate.
enum class StreamingVideo { off, filter, all };

/// One encoded picture of a video region, made once per desktop by the encode stage for an
/// encoder clients use (Desktop::acquire_video) and shared by all of them.
struct EncodedVideoFrame {
  encode::VideoCodecChoice encoder;  ///< the registry backend and codec that made it
  /// The encoder object (a new one, after the region was resized, starts on a keyframe) and
  /// its frame number from 1: a client that did not get seq - 1 of the same encoder lost
  /// what this frame refers to and waits for a keyframe.
  uint64_t encoder_id = 0;
  uint64_t seq = 0;
  std::shared_ptr<const encode::EncodedFrame> frame;  ///< null: the encoder failed
  std::string failed;                                 ///< why, when frame is null
};

/// A region of the primary surface that changes like video, published for clients that
/// stream it (their display channel encodes `pixels` as a video frame and skips the
/// region's tiles; other clients keep getting the tiles, which stay exact). Immutable once
/// published; a region keeps its id for its whole life and moves or resizes with its
/// picture (a dragged or resized player window). When it goes still it is dropped from the
/// Frame in the same version that refreshes all its tiles losslessly.
struct VideoRegion {
  uint32_t id = 0;
  Rect rect;  ///< tile-aligned, inside the surface
  /// The frame version whose picture `pixels` shows (bumps only when the region changed).
  uint64_t version = 0;
  std::shared_ptr<const Image> pixels;  ///< rect.size(), the region's current picture
  /// The same picture as 4:2:0 YUV (core/yuv.hpp), converted by the raster backend (on the
  /// device where there is one), in the formats requested by Desktop::request_video_input;
  /// null otherwise. A stream encoder codes from these instead of converting `pixels`.
  std::shared_ptr<const YuvImage> i420, nv12;
  const YuvImage* yuv(YuvFormat f) const { return (f == YuvFormat::i420 ? i420 : nv12).get(); }
  /// Parts of rect that stay still while the rest changes (a window or text over the
  /// player; engine/src/video_cover.hpp), on an 8-pixel grid: clients clip the stream to
  /// `shown` and send these exact from `pixels`. Both empty while nothing is covered.
  std::vector<Rect> covered;
  std::vector<Rect> shown;  ///< rect less covered, as rectangles
  /// `pixels` encoded by each encoder in use (Desktop::acquire_video) when the region
  /// changed; an encoder missing here dropped the picture (rate control) or was acquired
  /// since.
  std::vector<EncodedVideoFrame> encoded;
};

/// An immutable published state of the primary surface.
struct Frame {
  uint64_t version = 0;
  /// Changes whenever the primary surface is (re)created; clients then start over.
  uint64_t surface_generation = 0;
  Size size;
  int32_t tile_size = 0;
  std::vector<std::shared_ptr<const Tile>> tiles;  ///< row-major
  /// Pixel moves inside the primary surface (scrolls, window drags) that turn version - 1
  /// into this version, in order, before any tile pixels: SPICE's COPY_BITS. A client
  /// replays them on its picture of version - 1; where a move's source had been painted
  /// earlier in the pass, the moved area counts as painted (its tiles are not moved_only,
  /// their delta covers it), so the client gets those pixels after the moves.
  std::vector<CopyBitsOp> copies;
  /// The live video regions (empty with StreamingVideo::off), ordered by id.
  std::vector<VideoRegion> video;

  /// The whole picture as one image (assembled from the tiles).
  Image assemble() const;
};

/// The pointer as the source last set it. Immutable once published.
struct CursorState {
  uint64_t version = 0;        ///< bumps on every change
  uint64_t shape_version = 0;  ///< bumps when the shape changes (clients re-send it)
  std::shared_ptr<const CursorShape> shape;  ///< null: the source never set one
  Point pos;
  bool visible = false;
};

struct DesktopOptions {
  std::string synthetic = "office";
  qxl::SyntheticOptions source;
  std::string raster = "auto";
  /// Written once, as binary PPM, after the first frame is rendered (empty = none).
  std::string dump_frame_path;
  int32_t tile_size = 128;
  /// After this many frames the source stops advancing (input still shows); 0 = never.
  /// Lets a test compare a client that watched the animation with the final picture.
  uint64_t stop_after_frames = 0;
  /// Codecs every changed tile is encoded with whether or not a client wants them (the
  /// ones clients acquire come on top); lz4 by default: what spice-gtk clients get.
  std::vector<encode::ImageCodec> codecs = {encode::ImageCodec::lz4};
  /// Video-region detection (see StreamingVideo); frozen desktops never change steadily,
  /// so they never get a region.
  StreamingVideo streaming_video = StreamingVideo::filter;
};

class Desktop {
 public:
  /// Builds the source, raster backend and graph. Errors are set-up errors (bad name...).
  static Result<std::unique_ptr<Desktop>> create(int index, const DesktopOptions& opts);
  /// Builds a desktop over an external `source` (e.g. QXL commands fed by compat/'s
  /// libspice-server ABI) instead of the named synthetic workload (`opts.synthetic` is
  /// ignored; `opts.source.fps` still sets the tick rate). Takes ownership of `source`;
  /// its start/next_frame/on_input are called from the pipeline's ingest stage only.
  static Result<std::unique_ptr<Desktop>> create(int index, const DesktopOptions& opts,
                                                 std::unique_ptr<qxl::SyntheticDesktop> source);
  ~Desktop();
  Desktop(const Desktop&) = delete;
  Desktop& operator=(const Desktop&) = delete;

  int index() const { return index_; }
  int fps() const { return opts_.source.fps; }
  std::string_view raster_name() const;

  /// The newest published frame (null before the first one). Thread-safe.
  std::shared_ptr<const Frame> latest() const;

  /// The newest pointer state (never null). Thread-safe.
  std::shared_ptr<const CursorState> cursor() const;

  /// Registers `cb`, called (on a pipeline thread) after every publish of a frame or of a
  /// cursor change. Returns an id.
  uint64_t subscribe(std::function<void()> cb);
  void unsubscribe(uint64_t id);

  /// Queues an input event for the next frame. Thread-safe; bounded: when full the oldest
  /// pointer motion is dropped (key and button events are kept up to the bound).
  void post_input(const InputEvent& ev);
  /// Input events waiting for the next pass (at most kMaxQueuedInputs).
  size_t queued_inputs() const;
  static constexpr size_t kMaxQueuedInputs = 1024;

  /// Asks the encode stage to encode changed tiles with `codec` too, from the next pass
  /// on; reference-counted, so each acquire needs one release_codec(). Thread-safe (the
  /// display channel calls these on the event-loop thread). Raw is ignored: clients make
  /// it from the tile's pixels.
  void acquire_codec(encode::ImageCodec codec);
  void release_codec(encode::ImageCodec codec);
  /// Asks the classify stage to publish every live video region's picture in `format` too
  /// (VideoRegion::i420 / nv12), from the next pass on: a display channel whose stream
  /// encoder codes from that format calls this. Stays on for the desktop's life (one
  /// conversion per changed region per pass). Thread-safe.
  void request_video_input(YuvFormat format);
  /// The codecs the encode stage currently makes (options' codecs + acquired ones).
  std::vector<encode::ImageCodec> codecs_in_use() const;

  /// Asks the encode stage to encode every live video region's changes with `encoder` too
  /// (a registry backend and codec), from the next pass on: one encoder object per region,
  /// however many clients stream it (their display channels only send the frames).
  /// Reference-counted like acquire_codec. Thread-safe.
  void acquire_video(const encode::VideoCodecChoice& encoder);
  /// `owner`: the one whose set_video_level() entry goes with it (0: none).
  void release_video(const encode::VideoCodecChoice& encoder, uint64_t owner = 0);
  /// Rate control: the quality level one client (`owner`, any unique id) can take from
  /// `encoder`, 0 (full) to kMaxVideoLevel (the quality floor). The desktop's encoder runs
  /// at the highest level any of its clients asks for (one encode serves them all) and is
  /// re-made (from a keyframe) when that changes. Thread-safe.
  void set_video_level(const encode::VideoCodecChoice& encoder, uint64_t owner, int level);
  /// The level `encoder` runs at now (the highest asked for).
  int video_level(const encode::VideoCodecChoice& encoder) const;
  static constexpr int kMaxVideoLevel = 3;
  /// Makes the next frame `encoder` makes for region `region` a keyframe (a client joined
  /// the stream or lost frames). Thread-safe.
  void request_keyframe(uint32_t region, const encode::VideoCodecChoice& encoder);

  /// Runs one pipeline pass (called by the Engine's scheduler). Returns false when the
  /// previous pass is still in flight (the tick is skipped: frames drop, queues do not grow).
  bool tick();
  /// Runs a pass now because the source has new commands (e.g. the drop-in's QXL worker
  /// queued a batch): at once when none is in flight and the last began at least half a
  /// frame ago; else right after the current one or at the next scheduler tick, instead of
  /// always at the next tick (up to 1/fps later). Thread-safe.
  void kick();
  /// The Engine scheduler's tick: tick(), unless a kicked pass started less than 3/4 of a
  /// frame ago and no kick waits (passes of a kicked desktop stay about a frame apart).
  bool scheduled_tick();
  /// Waits until no pass is in flight.
  void wait_idle();
  /// Runs `fn` with the current pixels of raster surface `id` (at least `area` current)
  /// between passes: it waits for the pass in flight, and no pass starts until `fn`
  /// returns (ticks meanwhile are skipped). For compat/'s update_area on off-screen
  /// surfaces. Returns false (without calling `fn`) when the surface does not exist.
  /// Any thread but the pipeline's.
  bool read_surface(uint32_t id, const Rect& area, const std::function<void(const ImageView&)>& fn);

  /// Pipeline statistics.
  struct Stats {
    uint64_t frames = 0;        ///< passes completed
    uint64_t skipped_ticks = 0;
    uint64_t tiles_encoded = 0;
    uint64_t video_regions = 0;  ///< regions ever started
    uint64_t video_frames = 0;   ///< region pictures encoded (per encoder in use)
    uint64_t keyframes = 0;      ///< of which keyframes
  };
  Stats stats() const;

 private:
  int64_t frame_interval_ns() const;
  /// Starts a pass unless one is in flight (then false); `by_kick`: kick() asked for it.
  bool start_pass(bool by_kick);
  Desktop(int index, DesktopOptions opts);
  struct Pipeline;

  const int index_;
  const DesktopOptions opts_;
  std::unique_ptr<Pipeline> pipeline_;
};

}  // namespace spiceflow::engine
