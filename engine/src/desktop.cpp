#include "spiceflow/engine/desktop.hpp"

#include <tbb/flow_graph.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_invoke.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <cstring>
#include <deque>

#include "classify.hpp"
#include "video_cover.hpp"
#include "video_detect.hpp"
#include "spiceflow/core/log.hpp"
#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::engine {

namespace {

// Everything one pipeline pass carries from stage to stage. Owned by the pass; each stage
// fills in its part. Passed as a shared_ptr so no stage copies pixels it does not touch.
struct Pass {
  uint64_t frame_no = 0;
  DrawBatch batch;
  bool surface_recreated = false;
  std::vector<int32_t> dirty;                    // tile indices, row-major
  std::vector<std::shared_ptr<Image>> pixels;    // per dirty tile
  std::vector<TileClass> classes;                // per dirty tile
  std::vector<std::shared_ptr<const Tile>> tiles;  // per dirty tile, after encode
  std::vector<CopyBitsOp> copies;                // forwardable moves, in order
  std::vector<bool> moved_only;                  // per dirty tile
  std::vector<Rect> deltas;                      // per dirty tile: what was painted in it
  bool video_changed = false;                    // regions started or ended
  // The raster backend's per-tile hashes after this pass (video detection only).
  std::optional<gpu::TileHashes> hashes;
};
using PassPtr = std::shared_ptr<Pass>;
}  // namespace

Image Frame::assemble() const {
  // The tiles cover the surface exactly: every pixel is written.
  Image out = Image::uninitialized(size.width, size.height);
  for (const auto& t : tiles) {
    for (int32_t y = 0; y < t->rect.height; ++y) {
      std::memcpy(out.row(t->rect.y + y) + t->rect.x, t->pixels->row(y),
                  size_t(t->rect.width) * 4);
    }
  }
  return out;
}

struct Desktop::Pipeline {
  explicit Pipeline(Desktop& d) : owner(d), detector(d.opts_.streaming_video) {}

  Desktop& owner;
  // Used only by the stage that is running (passes never overlap: see in_flight).
  std::unique_ptr<qxl::SyntheticDesktop> source;
  std::unique_ptr<gpu::RasterBackend> raster;
  // One encoder per codec (index = ImageCodec; null for raw). Encoders are stateless, so
  // the encode stage's parallel tasks share them.
  std::array<std::unique_ptr<encode::ImageEncoder>, encode::kImageCodecCount> encoders;
  // Clients' acquisitions per codec; read once per pass by the encode stage.
  std::array<std::atomic<int>, encode::kImageCodecCount> codec_refs{};
  std::unique_ptr<gpu::DamageGrid> damage;
  std::unique_ptr<gpu::DamageGrid> painted;  // tiles changed by more than forwarded copies
  static constexpr size_t kMaxPaintedRects = 256;
  std::vector<Rect> painted_rects;  // what this pass painted, while it is few rectangles
  // Tiles the detector hands back losslessly (a video region went still): repainted in
  // full on the next pass, never "moved only".
  std::vector<Rect> refresh;
  Classifier classifier;
  VideoDetector detector;
  std::vector<VideoRegion> video;  // the live regions as last classified
  std::vector<std::pair<uint32_t, CoverTracker>> covers;  // per live region id
  Size size;
  uint64_t surface_generation = 0;
  uint64_t version = 0;
  uint64_t frame_no = 0;
  bool started = false;
  bool dumped = false;
  std::vector<std::shared_ptr<const Tile>> tiles;  // the current tile map

  mutable std::mutex pub_mu;
  std::shared_ptr<const Frame> latest;  // guarded by pub_mu
  std::shared_ptr<const CursorState> cursor = std::make_shared<CursorState>();  // guarded by pub_mu
  CursorState next_cursor;  // the render stage's working copy
  bool cursor_changed = false;

  mutable std::mutex in_mu;
  std::deque<InputEvent> inputs;  // guarded by in_mu

  std::mutex sub_mu;
  std::vector<std::pair<uint64_t, std::function<void()>>> subscribers;  // guarded by sub_mu
  uint64_t next_sub = 1;                                                 // guarded by sub_mu

  std::atomic<bool> in_flight{false};
  std::atomic<bool> kicked{false};  // a kick() waits (a pass was in flight, or one just ran)
  std::atomic<int64_t> last_start_ns{0};  // steady clock, when the last pass started
  std::atomic<bool> last_was_kick{false};
  std::mutex idle_mu;
  std::condition_variable idle_cv;

  std::atomic<uint64_t> frames{0}, skipped{0}, tiles_encoded{0}, video_regions{0},
      video_frames{0}, keyframes{0};

  // Video encoders clients use (acquire_video), and keyframes they asked for.
  std::mutex video_mu;
  std::vector<std::pair<encode::VideoCodecChoice, int>> video_refs;  // guarded by video_mu
  std::vector<std::pair<uint32_t, encode::VideoCodecChoice>> keyframe_asks;  // video_mu
  struct LevelAsk {
    encode::VideoCodecChoice key;
    uint64_t owner;
    int level;
  };
  std::vector<LevelAsk> level_asks;  // guarded by video_mu
  int level_of(const encode::VideoCodecChoice& key) const {  // video_mu held
    int level = 0;
    for (const auto& a : level_asks) {
      if (a.key == key) level = std::max(level, a.level);
    }
    return level;
  }
  // One encoder per (live region, encoder in use); the encode stage's alone.
  struct RegionEncoder {
    uint32_t region = 0;
    encode::VideoCodecChoice key;
    Size size;
    uint64_t id = 0;
    uint64_t seq = 0;
    int level = 0;  // the quality level it was made for
    std::unique_ptr<encode::VideoEncoder> encoder;  // null: could not be made (why)
    std::string why;
  };
  std::vector<RegionEncoder> region_encoders;
  uint64_t next_encoder_id = 1;
  // Bit (1 << YuvFormat) set: publish video regions in that format (request_video_input).
  std::atomic<uint32_t> video_inputs{0};

  tbb::flow::graph graph;
  std::unique_ptr<tbb::flow::function_node<PassPtr, PassPtr>> ingest_node, render_node,
      classify_node, encode_node;
  std::unique_ptr<tbb::flow::function_node<PassPtr, tbb::flow::continue_msg>> publish_node;

  void build_graph();
  PassPtr ingest(PassPtr p);
  PassPtr render(PassPtr p);
  PassPtr classify(PassPtr p);
  PassPtr encode(PassPtr p);
  void publish(const PassPtr& p);
  void apply_cursor(const CursorCommand& c);
  void detect_video(Pass& p);
  void convert_video(VideoRegion& v);
  /// Encodes the regions that changed in this pass with every encoder in use.
  void encode_video(uint64_t next_version);
  void finish_pass();
};

void Desktop::Pipeline::build_graph() {
  using namespace tbb::flow;
  ingest_node = std::make_unique<function_node<PassPtr, PassPtr>>(
      graph, serial, [this](PassPtr p) { return ingest(std::move(p)); });
  render_node = std::make_unique<function_node<PassPtr, PassPtr>>(
      graph, serial, [this](PassPtr p) { return render(std::move(p)); });
  classify_node = std::make_unique<function_node<PassPtr, PassPtr>>(
      graph, serial, [this](PassPtr p) { return classify(std::move(p)); });
  encode_node = std::make_unique<function_node<PassPtr, PassPtr>>(
      graph, serial, [this](PassPtr p) { return encode(std::move(p)); });
  publish_node = std::make_unique<function_node<PassPtr, continue_msg>>(
      graph, serial, [this](const PassPtr& p) {
        publish(p);
        return continue_msg();
      });
  make_edge(*ingest_node, *render_node);
  make_edge(*render_node, *classify_node);
  make_edge(*classify_node, *encode_node);
  make_edge(*encode_node, *publish_node);
}

PassPtr Desktop::Pipeline::ingest(PassPtr p) {
  if (!started) {
    p->batch = source->start();
    started = true;
  } else {
    std::deque<InputEvent> pending;
    {
      std::lock_guard lock(in_mu);
      pending.swap(inputs);
    }
    for (const auto& ev : pending) source->on_input(ev);
    const uint64_t stop = owner.opts_.stop_after_frames;
    if (stop == 0 || frame_no < stop) ++frame_no;
    // Repeating the last frame number changes nothing but what input did.
    p->batch = source->next_frame(frame_no);
  }
  p->frame_no = frame_no;
  return p;
}

PassPtr Desktop::Pipeline::render(PassPtr p) {
  for (const auto& c : p->batch.creates) {
    if (auto st = raster->create_surface(c.surface_id, c.size); !st) {
      log::error("desktop {}: cannot create surface {}: {}", owner.index(), c.surface_id,
                 st.error().message);
      continue;
    }
    if (c.surface_id != 0) continue;  // off-screen: drawn on and read from, never shown
    size = c.size;
    damage = std::make_unique<gpu::DamageGrid>(size, owner.opts_.tile_size);
    damage->mark_all();
    tiles.assign(size_t(damage->columns()) * size_t(damage->rows()), nullptr);
    ++surface_generation;
    p->surface_recreated = true;
  }
  for (const auto& c : p->batch.cursor) apply_cursor(c);
  if (!damage) return p;
  // `painted` marks tiles changed other than by a forwardable copy. A copy can be replayed
  // by a client that is in sync with the previous version as long as its source has not
  // been painted earlier in this pass (earlier forwarded copies are replayed in order, so
  // they are fine).
  if (!painted || painted->columns() != damage->columns() || painted->rows() != damage->rows()) {
    painted = std::make_unique<gpu::DamageGrid>(size, damage->tile());
  }
  painted->clear();
  painted_rects.clear();
  if (p->surface_recreated) painted->mark_all();
  // painted_rects lists every painted rectangle while it is short; past that (or on a new
  // surface) only the tile-grained `painted` grid is kept, which is conservative.
  const auto rects_exact = [&] {
    return painted_rects.size() < kMaxPaintedRects && !p->surface_recreated;
  };
  const auto mark_painted = [&](const Rect& r) {
    painted->mark(r);
    if (painted_rects.size() < kMaxPaintedRects) painted_rects.push_back(r);
  };
  for (const Rect& r : refresh) mark_painted(r);
  refresh.clear();
  // Whether pixels a copy would read were painted earlier in this pass.
  const auto source_painted = [&](const Rect& src) {
    if (!rects_exact()) return painted->any_in(src);
    return std::any_of(painted_rects.begin(), painted_rects.end(),
                       [&](const Rect& pr) { return !intersect(pr, src).empty(); });
  };
  // A forwarded copy whose source was painted earlier in the pass: the client replays it
  // on its old pixels, so where the source was painted the destination is wrong on the
  // client until that part's pixels are sent: it counts as painted.
  const auto carry_paint = [&](const Rect& src, const Rect& dst) {
    if (!rects_exact()) {
      mark_painted(dst);
      return;
    }
    const int32_t dx = dst.x - src.x, dy = dst.y - src.y;
    const size_t n = painted_rects.size();
    for (size_t i = 0; i < n; ++i) {
      const Rect from = intersect(painted_rects[i], src);
      if (!from.empty()) mark_painted(from.translated(dx, dy));
    }
  };
  // The whole batch at once: a device backend records it and submits it once.
  auto results = raster->apply_batch(p->batch.commands);
  std::vector<Rect> batch_damage;  // on the primary surface, for the tile hashes
  for (size_t ci = 0; ci < p->batch.commands.size(); ++ci) {
    const DrawCommand& cmd = p->batch.commands[ci];
    const Result<Rect>& r = results[ci];
    if (!r) {
      // A bad command is rejected alone; the rest of the batch still applies.
      log::warn("desktop {}: draw command rejected: {}", owner.index(), r.error().message);
      continue;
    }
    if (cmd.surface_id != 0 || r->empty()) continue;
    damage->mark(*r);
    batch_damage.push_back(*r);
    const auto* copy = std::get_if<CopyBitsOp>(&cmd.op);
    if (copy && cmd.clip_rects.empty()) {
      const Point src{copy->src.x + (r->x - copy->dst.x), copy->src.y + (r->y - copy->dst.y)};
      const Rect src_rect{src.x, src.y, r->width, r->height};
      if (Rect::from_size(size).contains(src_rect)) {
        p->copies.push_back(CopyBitsOp{*r, src});
        if (source_painted(src_rect)) carry_paint(src_rect, *r);
        continue;
      }
    }
    mark_painted(*r);
  }
  for (const auto& d : p->batch.destroys) {
    if (d.surface_id != 0) raster->destroy_surface(d.surface_id);
  }
  // The video detector's input: which tiles' content changed (hashed by the backend, on
  // the device where there is one).
  if (detector.mode() != StreamingVideo::off) {
    if (p->surface_recreated) batch_damage.assign(1, Rect::from_size(size));
    auto h = raster->update_tile_hashes(0, batch_damage);
    // A new surface's tiles are all new (the detector starts over on it anyway).
    if (h && !p->surface_recreated) p->hashes = std::move(*h);
  }
  p->dirty = damage->take_indices();
  p->moved_only.reserve(p->dirty.size());
  p->deltas.reserve(p->dirty.size());
  std::vector<Rect> dirty_rects;
  dirty_rects.reserve(p->dirty.size());
  const bool exact = rects_exact();
  for (int32_t i : p->dirty) {
    const Rect tile = damage->tile_rect(i);
    const bool moved_only = !painted->is_marked(i);
    Rect delta;
    if (!moved_only && exact) {
      for (const Rect& pr : painted_rects) {
        delta = bounding_union(delta, intersect(pr, tile));
      }
    }
    if (!moved_only && delta.empty()) delta = tile;
    p->moved_only.push_back(moved_only);
    p->deltas.push_back(delta);
    dirty_rects.push_back(tile);
  }
  // Only the dirty tiles are read (a device backend copies back just those).
  const ImageView surface = raster->view(0, dirty_rects);
  p->pixels.reserve(p->dirty.size());
  for (const Rect& t : dirty_rects) p->pixels.push_back(std::make_shared<Image>(Image::copy_of(surface, t)));
  return p;
}

void Desktop::Pipeline::apply_cursor(const CursorCommand& c) {
  if (const auto* set = std::get_if<CursorSet>(&c)) {
    if (!set->shape || !set->shape->pixels) {
      log::warn("desktop {}: cursor set without a shape ignored", owner.index());
      return;
    }
    if (next_cursor.shape != set->shape) ++next_cursor.shape_version;
    next_cursor.shape = set->shape;
    next_cursor.pos = set->pos;
    next_cursor.visible = true;
  } else if (const auto* move = std::get_if<CursorMove>(&c)) {
    next_cursor.pos = move->pos;
  } else {
    next_cursor.visible = false;
  }
  ++next_cursor.version;
  cursor_changed = true;
}

PassPtr Desktop::Pipeline::classify(PassPtr p) {
  p->classes.assign(p->dirty.size(), TileClass::lossless);
  for (size_t k = 0; k < p->dirty.size(); ++k) {
    p->classes[k] = classifier.classify(p->dirty[k], p->frame_no);
  }
  if (damage) detect_video(*p);
  return p;
}

namespace {
// The fraction of pixels that differ between two same-sized tiles (X bytes ignored).
double changed_fraction(const ImageView& a, const ImageView& b) {
  if (a.width != b.width || a.height != b.height || a.width <= 0 || a.height <= 0) return 1.0;
  size_t differ = 0;
  for (int32_t y = 0; y < a.height; ++y) {
    const auto* ra = reinterpret_cast<const uint32_t*>(a.data + size_t(y) * size_t(a.stride));
    const auto* rb = reinterpret_cast<const uint32_t*>(b.data + size_t(y) * size_t(b.stride));
    if (std::memcmp(ra, rb, size_t(a.width) * 4) == 0) continue;
    for (int32_t x = 0; x < a.width; ++x) differ += ((ra[x] ^ rb[x]) & 0x00ffffffu) != 0;
  }
  return double(differ) / (double(a.width) * double(a.height));
}

// Whether any hash tile meeting `r` changed in the newest update.
bool hashes_changed(const gpu::TileHashes& h, const Rect& r) {
  const int32_t t = gpu::TileHashes::kHashTile;
  for (int32_t ty = r.y / t; ty <= (r.bottom() - 1) / t && ty < h.rows; ++ty) {
    for (int32_t tx = r.x / t; tx <= (r.right() - 1) / t && tx < h.columns; ++tx) {
      if (h.history[size_t(ty) * size_t(h.columns) + size_t(tx)] & 1) return true;
    }
  }
  return false;
}
}  // namespace

// Feeds the pass's painted tiles to the detector, publishes the live regions' pictures and
// classifies tiles inside a live region as video (their lossless encodings are skipped:
// streaming clients do not send them, and others encode the few they need themselves).
void Desktop::Pipeline::detect_video(Pass& p) {
  if (p.surface_recreated) {
    detector.reset(size, damage->tile(), damage->columns(), damage->rows());
    if (!video.empty()) p.video_changed = true;
    video.clear();
    covers.clear();
  }
  if (detector.mode() == StreamingVideo::off) return;
  std::vector<VideoDetector::TileChange> changes;
  changes.reserve(p.dirty.size());
  for (size_t k = 0; k < p.dirty.size(); ++k) {
    if (p.moved_only[k]) continue;  // a forwarded scroll or drag is no video
    // A tile that also received scrolled pixels is text or UI moving, with new lines
    // painted in: a change, but not a video-like one (comparing it with its old pixels
    // would count every moved pixel).
    const Rect tile_rect = damage->tile_rect(p.dirty[k]);
    const bool scrolled = std::any_of(p.copies.begin(), p.copies.end(), [&](const CopyBitsOp& c) {
      return !intersect(c.dst, tile_rect).empty();
    });
    const auto& before = tiles[size_t(p.dirty[k])];
    // The tile hashes say whether the content changed at all; only a changed tile is
    // compared pixel by pixel for how much of it changed.
    const bool same = p.hashes && !hashes_changed(*p.hashes, tile_rect);
    const double coverage =
        scrolled || same ? 0.0
                 : before ? changed_fraction(before->pixels->view(), p.pixels[k]->view()) : 1.0;
    changes.push_back({p.dirty[k], coverage});
  }
  // What this pass painted (while few enough to be kept) tells the detector which part of
  // each tile changed. A region that went still gets its exact pixels back as fresh tiles
  // on the next pass.
  std::optional<std::span<const Rect>> painted_known;
  if (!p.surface_recreated && painted_rects.size() < kMaxPaintedRects) {
    painted_known = painted_rects;
  }
  for (const Rect& r : detector.update(changes, painted_known)) {
    damage->mark(r);
    refresh.push_back(r);
  }

  std::vector<VideoRegion> next;
  next.reserve(detector.regions().size());
  std::vector<std::pair<uint32_t, CoverTracker>> next_covers;
  for (const auto& r : detector.regions()) {
    const auto old = std::find_if(video.begin(), video.end(),
                                  [&](const VideoRegion& v) { return v.id == r.id; });
    auto cover = std::find_if(covers.begin(), covers.end(),
                              [&](const auto& c) { return c.first == r.id; });
    if (cover == covers.end()) {
      covers.emplace_back(r.id, CoverTracker{});
      cover = covers.end() - 1;
      cover->second.reset(r.rect);
    }
    if (old != video.end() && !r.changed && old->rect == r.rect) {
      next.push_back(*old);
      next_covers.push_back(std::move(*cover));
      continue;
    }
    VideoRegion v;
    v.id = r.id;
    v.rect = r.rect;
    v.version = version + 1;  // the version this pass publishes (it has dirty tiles)
    v.pixels = std::make_shared<Image>(Image::copy_of(raster->view(0, std::span<const Rect>(&r.rect, 1)), r.rect));
    convert_video(v);
    CoverTracker& ct = cover->second;
    if (old != video.end() && old->rect == r.rect) {
      if (old->pixels && ct.update(old->pixels->view(), v.pixels->view())) {
        int64_t area = 0;
        for (const Rect& c : ct.covered()) area += c.area();
        log::info("desktop {}: video region {}: {} rects covered ({} pixels)", owner.index(),
                  r.id, ct.covered().size(), area);
      }
    } else {
      ct.reset(r.rect);
    }
    v.covered = ct.covered();
    v.shown = ct.shown();
    if (old != video.end() && old->rect != r.rect) {
      p.video_changed = true;
      log::info("desktop {}: video region {} moved: {}x{} at {},{}", owner.index(), r.id,
                r.rect.width, r.rect.height, r.rect.x, r.rect.y);
    }
    next.push_back(std::move(v));
    next_covers.push_back(std::move(*cover));
    if (old == video.end()) {
      ++video_regions;
      p.video_changed = true;
      log::info("desktop {}: video region {} started: {}x{} at {},{}", owner.index(), r.id,
                r.rect.width, r.rect.height, r.rect.x, r.rect.y);
    }
  }
  covers = std::move(next_covers);
  for (const auto& v : video) {
    const bool live = std::any_of(next.begin(), next.end(),
                                  [&](const VideoRegion& n) { return n.id == v.id; });
    if (!live) {
      p.video_changed = true;
      log::info("desktop {}: video region {} ended (still)", owner.index(), v.id);
    }
  }
  video = std::move(next);
  for (size_t k = 0; k < p.dirty.size(); ++k) {
    if (detector.region_of(p.dirty[k])) p.classes[k] = TileClass::video;
  }
}

std::vector<encode::ImageCodec> Desktop::codecs_in_use() const {
  std::vector<encode::ImageCodec> out;
  for (size_t c = 0; c < encode::kImageCodecCount; ++c) {
    const auto codec = encode::ImageCodec(c);
    if (codec == encode::ImageCodec::raw || encode::needs_dictionary(codec)) continue;
    const bool configured = std::find(opts_.codecs.begin(), opts_.codecs.end(), codec) !=
                            opts_.codecs.end();
    if (configured || pipeline_->codec_refs[c].load() > 0) out.push_back(codec);
  }
  return out;
}

// The region's picture in the YUV formats that stream encoders asked for, converted by the
// raster backend (a device backend converts on the device and reads back only YUV bytes).
void Desktop::Pipeline::convert_video(VideoRegion& v) {
  const uint32_t wanted = video_inputs.load(std::memory_order_relaxed);
  for (YuvFormat f : {YuvFormat::i420, YuvFormat::nv12}) {
    if (!(wanted & (1u << uint32_t(f)))) continue;
    auto yuv = raster->convert(0, v.rect, f);
    if (!yuv) {
      log::warn("desktop {}: video region {}: {}", owner.index(), v.id, yuv.error().message);
      continue;
    }
    (f == YuvFormat::i420 ? v.i420 : v.nv12) = std::make_shared<const YuvImage>(std::move(*yuv));
  }
}

void Desktop::request_video_input(YuvFormat format) {
  pipeline_->video_inputs.fetch_or(1u << uint32_t(format), std::memory_order_relaxed);
}

void Desktop::acquire_codec(encode::ImageCodec codec) { ++pipeline_->codec_refs[size_t(codec)]; }

void Desktop::release_codec(encode::ImageCodec codec) {
  [[maybe_unused]] const int left = --pipeline_->codec_refs[size_t(codec)];
  assert(left >= 0 && "release_codec without acquire_codec");
}

PassPtr Desktop::Pipeline::encode(PassPtr p) {
  const uint64_t next_version = version + 1;
  // The set is fixed for the pass: a client that acquires a codec meanwhile finds it
  // missing on this pass's tiles and encodes those itself.
  const std::vector<encode::ImageCodec> codecs = owner.codecs_in_use();
  p->tiles.resize(p->dirty.size());
  std::vector<std::shared_ptr<Tile>> tiles_out(p->dirty.size());
  for (size_t k = 0; k < p->dirty.size(); ++k) {
    auto tile = std::make_shared<Tile>();
    tile->rect = damage->tile_rect(p->dirty[k]);
    tile->version = next_version;
    tile->moved_only = p->moved_only[k];
    tile->delta = p->deltas[k];
    const auto& before = tiles[size_t(p->dirty[k])];
    tile->base_version = before ? before->version : 0;
    tile->copied_into = std::any_of(p->copies.begin(), p->copies.end(), [&](const CopyBitsOp& c) {
      return !intersect(c.dst, tile->rect).empty();
    });
    tile->pixels = p->pixels[k];
    tiles_out[k] = std::move(tile);
  }
  // Every (tile, codec) pair is independent: encode them all in parallel on the TBB
  // workers. Each task writes its own slot of its tile, so no locking is needed.
  // Tiles inside a live video region are not encoded: streaming clients skip them. Nor
  // are tiles that only moved: clients in sync replay the move, and one that fell behind
  // encodes the few it needs itself (a scroll moves the whole screen every frame).
  std::vector<size_t> lossless;
  lossless.reserve(p->dirty.size());
  for (size_t k = 0; k < p->dirty.size(); ++k) {
    if (p->classes[k] != TileClass::video && !p->moved_only[k]) lossless.push_back(k);
  }
  // Each job is (tile, codec, whole tile or its delta); deltas only where smaller.
  const size_t n_codecs = codecs.size();
  // Video regions are encoded beside the tiles (a video encoder runs on one worker while
  // the others take tiles). Each tile job is (tile, codec, whole tile or its delta); deltas
  // only where smaller.
  tbb::parallel_invoke(
      [&] {
        tbb::parallel_for(size_t(0), lossless.size() * n_codecs * 2, [&](size_t job) {
          const bool delta = job % 2 == 1;
          const size_t k = lossless[job / 2 / n_codecs];
          const encode::ImageCodec codec = codecs[job / 2 % n_codecs];
          Tile& tile = *tiles_out[k];
          if (delta && !tile.has_delta()) return;
          const ImageView whole = p->pixels[k]->view();
          const ImageView pixels =
              delta ? whole.sub(tile.delta.translated(-tile.rect.x, -tile.rect.y)) : whole;
          auto res = encoders[size_t(codec)]->encode(pixels);
          if (auto* enc = std::get_if<encode::EncodedImage>(&res)) {
            auto& slot = delta ? tile.delta_encoded[size_t(codec)] : tile.encoded[size_t(codec)];
            slot = std::make_shared<encode::EncodedImage>(std::move(*enc));
          }
        });
      },
      [&] { encode_video(next_version); });
  for (size_t k = 0; k < p->dirty.size(); ++k) {
    tiles_out[k]->lz4 = tiles_out[k]->encoding(encode::ImageCodec::lz4);
    p->tiles[k] = std::move(tiles_out[k]);
  }
  tiles_encoded += lossless.size();
  return p;
}

namespace {
// Rate control's quality ladder (Desktop::set_video_level), level 0 = each encoder's
// default. MJPEG: JPEG quality; x264: CRF; the rate-controlled encoders (VPX, NVENC,
// VAAPI): a fraction of their default bit rate. The last rung is the quality floor: below
// it text in a video turns unreadable, so a client that cannot take that skips frames
// instead (the newest wins).
constexpr std::array<int, Desktop::kMaxVideoLevel + 1> kMjpegQuality = {0, 55, 42, 30};
constexpr std::array<int, Desktop::kMaxVideoLevel + 1> kX264Crf = {0, 28, 33, 38};
constexpr std::array<double, Desktop::kMaxVideoLevel + 1> kBitrateShare = {1.0, 0.6, 0.35, 0.2};
// The default bit rate of the rate-controlled encoders (encode/src/video_ffmpeg.cpp's
// target_bitrate: 0.12 bit per pixel per frame), which the shares above scale.
constexpr double kDefaultBitsPerPixel = 0.12;

// The encoder settings of quality `level` (see the ladder above).
encode::VideoEncoderConfig video_config(encode::VideoCodec codec, Size size, int fps, int level) {
  encode::VideoEncoderConfig cfg;
  cfg.size = size;
  cfg.fps = fps;
  const size_t l = size_t(std::clamp(level, 0, Desktop::kMaxVideoLevel));
  if (l == 0) return cfg;
  if (codec == encode::VideoCodec::mjpeg) {
    cfg.quality = kMjpegQuality[l];
  } else if (codec == encode::VideoCodec::h264) {
    cfg.quality = kX264Crf[l];  // x264's CRF (NVENC/VAAPI H.264 take the bit rate)
    cfg.bitrate = int64_t(double(size.width) * size.height * std::max(fps, 1) *
                          kDefaultBitsPerPixel * kBitrateShare[l]);
  } else {
    cfg.bitrate = int64_t(double(size.width) * size.height * std::max(fps, 1) *
                          kDefaultBitsPerPixel * kBitrateShare[l]);
  }
  return cfg;
}
}  // namespace

void Desktop::Pipeline::encode_video(uint64_t next_version) {
  std::vector<encode::VideoCodecChoice> keys;
  std::vector<int> levels;  // per key
  std::vector<std::pair<uint32_t, encode::VideoCodecChoice>> asks;
  {
    std::lock_guard lock(video_mu);
    for (const auto& [key, refs] : video_refs) {
      if (refs > 0) {
        keys.push_back(key);
        levels.push_back(level_of(key));
      }
    }
    asks.swap(keyframe_asks);
  }
  const auto level_for = [&](const encode::VideoCodecChoice& k) {
    return levels[size_t(std::find(keys.begin(), keys.end(), k) - keys.begin())];
  };
  const auto in_use = [&](const encode::VideoCodecChoice& k) {
    return std::find(keys.begin(), keys.end(), k) != keys.end();
  };
  // Encoders of regions that ended or changed size, of encoders no client uses, and of a
  // quality level no longer asked for, go.
  std::erase_if(region_encoders, [&](const RegionEncoder& e) {
    const auto v = std::find_if(video.begin(), video.end(),
                                [&](const VideoRegion& r) { return r.id == e.region; });
    return v == video.end() || v->rect.size() != e.size || !in_use(e.key) ||
           level_for(e.key) != e.level;
  });
  for (const auto& [region, key] : asks) {
    for (auto& e : region_encoders) {
      if (e.region == region && e.key == key && e.encoder) e.encoder->request_keyframe();
    }
  }
  // One job per (changed region, encoder in use), each writing its own slot.
  struct Job {
    VideoRegion* region;
    size_t encoder;  // index into region_encoders (which grows while jobs are listed)
    size_t slot;
  };
  std::vector<Job> jobs;
  for (auto& v : video) {
    if (v.version != next_version || !v.pixels) continue;  // unchanged: its frames stand
    v.encoded.assign(keys.size(), EncodedVideoFrame{});
    for (size_t k = 0; k < keys.size(); ++k) {
      auto e = std::find_if(region_encoders.begin(), region_encoders.end(),
                            [&](const RegionEncoder& x) { return x.region == v.id && x.key == keys[k]; });
      if (e == region_encoders.end()) {
        RegionEncoder made;
        made.region = v.id;
        made.key = keys[k];
        made.size = v.rect.size();
        made.id = next_encoder_id++;
        made.level = levels[k];
        encode::VideoEncoderConfig cfg = video_config(keys[k].codec, v.rect.size(), owner.fps(),
                                                       levels[k]);
        for (const auto& b : encode::video_encoder_registry()) {
          if (b.name == keys[k].backend && b.codec == keys[k].codec) {
            made.encoder = b.create(cfg);
            break;
          }
        }
        if (made.encoder) {
          if (auto input = made.encoder->yuv_input()) {
            video_inputs.fetch_or(1u << uint32_t(*input), std::memory_order_relaxed);
          }
        } else {
          made.why = "encoder " + encode::to_string(std::span(&keys[k], 1)) +
                     " cannot be made at " + std::to_string(cfg.size.width) + "x" +
                     std::to_string(cfg.size.height);
          log::warn("desktop {}: video region {}: {}", owner.index(), v.id, made.why);
        }
        region_encoders.push_back(std::move(made));
        e = region_encoders.end() - 1;
      }
      v.encoded[k].encoder = keys[k];
      v.encoded[k].encoder_id = e->id;
      jobs.push_back(Job{&v, size_t(e - region_encoders.begin()), k});
    }
  }
  tbb::parallel_for(size_t(0), jobs.size(), [&](size_t j) {
    const Job& job = jobs[j];
    EncodedVideoFrame& out = job.region->encoded[job.slot];
    RegionEncoder& e = region_encoders[job.encoder];
    if (!e.encoder) {
      out.failed = e.why;
      return;
    }
    // The raster backend's conversion of the picture when the encoder codes from YUV and
    // it is there (see convert_video): no second conversion in the encoder.
    const auto input = e.encoder->yuv_input();
    const YuvImage* yuv = input ? job.region->yuv(*input) : nullptr;
    auto res = yuv ? e.encoder->encode(*yuv) : e.encoder->encode(job.region->pixels->view());
    if (auto* f = std::get_if<encode::EncodedFrame>(&res)) {
      out.seq = ++e.seq;
      if (f->keyframe) ++keyframes;
      ++video_frames;
      out.frame = std::make_shared<const encode::EncodedFrame>(std::move(*f));
    } else if (auto* u = std::get_if<encode::Unsupported>(&res)) {
      out.seq = ++e.seq;
      out.failed = u->why;
    } else {
      out.encoder_id = 0;  // dropped by rate control: nothing this time
    }
  });
  // Entries without a frame or a failure (dropped) are left out.
  for (auto& v : video) {
    if (v.version != next_version) continue;
    std::erase_if(v.encoded, [](const EncodedVideoFrame& f) { return f.encoder_id == 0; });
  }
}

void Desktop::set_video_level(const encode::VideoCodecChoice& encoder, uint64_t owner,
                              int level) {
  std::lock_guard lock(pipeline_->video_mu);
  auto& asks = pipeline_->level_asks;
  std::erase_if(asks, [&](const auto& a) { return a.key == encoder && a.owner == owner; });
  level = std::clamp(level, 0, kMaxVideoLevel);
  if (level > 0) asks.push_back({encoder, owner, level});
}

int Desktop::video_level(const encode::VideoCodecChoice& encoder) const {
  std::lock_guard lock(pipeline_->video_mu);
  return pipeline_->level_of(encoder);
}

void Desktop::acquire_video(const encode::VideoCodecChoice& encoder) {
  std::lock_guard lock(pipeline_->video_mu);
  for (auto& [key, refs] : pipeline_->video_refs) {
    if (key == encoder) {
      ++refs;
      return;
    }
  }
  pipeline_->video_refs.emplace_back(encoder, 1);
}

void Desktop::release_video(const encode::VideoCodecChoice& encoder, uint64_t owner) {
  std::lock_guard lock(pipeline_->video_mu);
  if (owner != 0) {
    std::erase_if(pipeline_->level_asks,
                  [&](const auto& a) { return a.key == encoder && a.owner == owner; });
  }
  for (auto& [key, refs] : pipeline_->video_refs) {
    if (key == encoder) {
      assert(refs > 0 && "release_video without acquire_video");
      --refs;
      return;
    }
  }
  assert(false && "release_video without acquire_video");
}

void Desktop::request_keyframe(uint32_t region, const encode::VideoCodecChoice& encoder) {
  std::lock_guard lock(pipeline_->video_mu);
  auto& asks = pipeline_->keyframe_asks;
  const std::pair<uint32_t, encode::VideoCodecChoice> ask{region, encoder};
  if (std::find(asks.begin(), asks.end(), ask) == asks.end()) asks.push_back(ask);
}

void Desktop::Pipeline::publish(const PassPtr& p) {
  const bool cursor_update = cursor_changed;
  if (cursor_changed) {
    cursor_changed = false;
    auto c = std::make_shared<CursorState>(next_cursor);
    std::lock_guard lock(pub_mu);
    cursor = std::move(c);
  }
  if (!p->dirty.empty() || p->video_changed) {
    ++version;
    for (size_t k = 0; k < p->dirty.size(); ++k) tiles[size_t(p->dirty[k])] = p->tiles[k];
    auto frame = std::make_shared<Frame>();
    frame->version = version;
    frame->surface_generation = surface_generation;
    frame->size = size;
    frame->tile_size = damage->tile();
    frame->tiles = tiles;
    frame->copies = p->copies;
    frame->video = video;
    {
      std::lock_guard lock(pub_mu);
      latest = frame;
    }
    if (!dumped && !owner.opts_.dump_frame_path.empty()) {
      dumped = true;
      // Write to a temporary name and rename, so a reader polling for the file never
      // sees a half-written picture.
      const std::string tmp = owner.opts_.dump_frame_path + ".tmp";
      Image img = frame->assemble();
      if (auto st = write_ppm(tmp, img.view()); !st) {
        log::error("desktop {}: --dump-frame: {}", owner.index(), st.error().message);
      } else if (std::rename(tmp.c_str(), owner.opts_.dump_frame_path.c_str()) != 0) {
        log::error("desktop {}: cannot rename {} to {}", owner.index(), tmp,
                   owner.opts_.dump_frame_path);
      } else {
        log::info("desktop {}: wrote frame {} to {}", owner.index(), version,
                  owner.opts_.dump_frame_path);
      }
    }
  }
  if (!p->dirty.empty() || p->video_changed || cursor_update) {
    std::vector<std::function<void()>> cbs;
    {
      std::lock_guard lock(sub_mu);
      for (auto& [id, cb] : subscribers) cbs.push_back(cb);
    }
    for (auto& cb : cbs) cb();
  }
  finish_pass();
}

void Desktop::Pipeline::finish_pass() {
  ++frames;
  {
    std::lock_guard lock(idle_mu);
    in_flight = false;
  }
  idle_cv.notify_all();
  if (kicked.exchange(false)) owner.kick();
}

Desktop::Desktop(int index, DesktopOptions opts)
    : index_(index), opts_(std::move(opts)), pipeline_(std::make_unique<Pipeline>(*this)) {}

Desktop::~Desktop() {
  wait_idle();
  pipeline_->graph.wait_for_all();
}

Result<std::unique_ptr<Desktop>> Desktop::create(int index, const DesktopOptions& opts) {
  auto source = qxl::make_synthetic(opts.synthetic, opts.source);
  if (!source) return source.error();
  return create(index, opts, std::move(*source));
}

Result<std::unique_ptr<Desktop>> Desktop::create(int index, const DesktopOptions& opts,
                                                 std::unique_ptr<qxl::SyntheticDesktop> source) {
  if (!source) return make_error("desktop source is null");
  auto raster = gpu::make_raster(opts.raster);
  if (!raster) return raster.error();
  if (opts.tile_size < 16 || opts.tile_size > 1024) {
    return make_error("tile size must be within 16..1024");
  }
  std::unique_ptr<Desktop> d(new Desktop(index, opts));
  auto& p = *d->pipeline_;
  p.source = std::move(source);
  p.raster = std::move(*raster);
  // GLZ is left out: its images depend on what each client holds (net/ encodes them).
  for (size_t c = 0; c < encode::kImageCodecCount; ++c) {
    const auto codec = encode::ImageCodec(c);
    if (codec != encode::ImageCodec::raw && !encode::needs_dictionary(codec)) {
      p.encoders[c] = encode::make_image_encoder(codec);
    }
  }
  p.build_graph();
  log::info("desktop {}: source '{}' {}x{} @ {} fps{}, raster backend '{}'", index,
            p.source->name(), opts.source.size.width, opts.source.size.height, opts.source.fps,
            opts.source.frozen ? " (frozen)" : "", p.raster->name());
  return d;
}

std::string_view Desktop::raster_name() const { return pipeline_->raster->name(); }

std::shared_ptr<const Frame> Desktop::latest() const {
  std::lock_guard lock(pipeline_->pub_mu);
  return pipeline_->latest;
}

std::shared_ptr<const CursorState> Desktop::cursor() const {
  std::lock_guard lock(pipeline_->pub_mu);
  return pipeline_->cursor;
}

uint64_t Desktop::subscribe(std::function<void()> cb) {
  std::lock_guard lock(pipeline_->sub_mu);
  const uint64_t id = pipeline_->next_sub++;
  pipeline_->subscribers.emplace_back(id, std::move(cb));
  return id;
}

void Desktop::unsubscribe(uint64_t id) {
  std::lock_guard lock(pipeline_->sub_mu);
  std::erase_if(pipeline_->subscribers, [id](const auto& s) { return s.first == id; });
}

void Desktop::post_input(const InputEvent& ev) {
  std::lock_guard lock(pipeline_->in_mu);
  auto& q = pipeline_->inputs;
  if (q.size() >= kMaxQueuedInputs) {
    // Drop the oldest pointer move: a later position supersedes it anyway.
    auto it = std::find_if(q.begin(), q.end(), [](const InputEvent& e) {
      return std::holds_alternative<PointerEvent>(e) || std::holds_alternative<MotionEvent>(e);
    });
    if (it == q.end()) return;  // only keys and buttons queued: drop the newest event
    q.erase(it);
  }
  q.push_back(ev);
}

size_t Desktop::queued_inputs() const {
  std::lock_guard lock(pipeline_->in_mu);
  return pipeline_->inputs.size();
}

namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

bool Desktop::start_pass(bool by_kick) {
  bool expected = false;
  if (!pipeline_->in_flight.compare_exchange_strong(expected, true)) return false;
  pipeline_->kicked = false;  // this pass takes what a deferred kick was for
  pipeline_->last_start_ns = now_ns();
  pipeline_->last_was_kick = by_kick;
  pipeline_->ingest_node->try_put(std::make_shared<Pass>());
  return true;
}

bool Desktop::tick() {
  if (start_pass(false)) return true;
  ++pipeline_->skipped;
  return false;
}

int64_t Desktop::frame_interval_ns() const { return 1'000'000'000LL / std::max(1, fps()); }

void Desktop::kick() {
  // Set first, so a pass finishing between the two steps still sees it.
  pipeline_->kicked = true;
  // Passes stay about a frame apart (the video detector counts changes per pass): within
  // half a frame of the last one, the kick waits for the scheduler's tick.
  if (now_ns() - pipeline_->last_start_ns.load() < frame_interval_ns() / 2) return;
  start_pass(true);
}

bool Desktop::scheduled_tick() {
  // A kicked pass ran lately and nothing waits: this tick would only split the next frame
  // over two passes.
  if (pipeline_->last_was_kick && !pipeline_->kicked &&
      now_ns() - pipeline_->last_start_ns.load() < frame_interval_ns() * 3 / 4) {
    return false;
  }
  return tick();
}

void Desktop::wait_idle() {
  std::unique_lock lock(pipeline_->idle_mu);
  pipeline_->idle_cv.wait(lock, [&] { return !pipeline_->in_flight.load(); });
}

bool Desktop::read_surface(uint32_t id, const Rect& area,
                           const std::function<void(const ImageView&)>& fn) {
  // Take the pass slot as tick() does, so the raster is ours until we give it back.
  while (true) {
    bool expected = false;
    if (pipeline_->in_flight.compare_exchange_strong(expected, true)) break;
    wait_idle();
  }
  const ImageView view = pipeline_->raster->view(id, std::span<const Rect>(&area, 1));
  const bool exists = view.data != nullptr;
  if (exists) fn(view);
  {
    std::lock_guard lock(pipeline_->idle_mu);
    pipeline_->in_flight = false;
  }
  pipeline_->idle_cv.notify_all();
  return exists;
}

Desktop::Stats Desktop::stats() const {
  return {pipeline_->frames.load(),        pipeline_->skipped.load(),
          pipeline_->tiles_encoded.load(), pipeline_->video_regions.load(),
          pipeline_->video_frames.load(),  pipeline_->keyframes.load()};
}

}  // namespace spiceflow::engine
