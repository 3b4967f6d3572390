#pragma once
/// GLZ: SPICE's LZ with a dictionary shared by every image a client is sent
/// (SPICE_IMAGE_TYPE_GLZ_RGB, and ZLIB_GLZ_RGB: the same stream deflated). A copy may
/// reference pixels of the image itself or of an earlier image the client still holds in
/// its "GLZ window" (spice-gtk keeps one per session, shared by its display channels).
///
/// The client frees window images only when an image header says so (win_head_dist), so
/// the server side decides everything: GlzDictionary is our copy of that window. Each
/// encode adds the image to it, slides the window (oldest images out) to keep it within
/// the client's window size, and may reference only images still in it. Both sides stay
/// identical as long as every encoded image reaches the client, in id order per channel.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "spiceflow/encode/image_encoder.hpp"

namespace spiceflow::encode {

/// The most pixels a GLZ window can address (the format's 25-bit pixel offsets; spice-gtk
/// announces at most this many).
inline constexpr uint32_t kGlzMaxWindowPixels = 1u << 25;
/// spice-gtk's smallest default window: 12 MiB of xRGB (what make_image_encoder(glz) uses).
inline constexpr uint32_t kGlzDefaultWindowPixels = 3u << 20;
/// The zlib level for ZLIB_GLZ_RGB (the reference server's).
inline constexpr int kGlzZlibLevel = 3;

/// One client's GLZ window, as the client holds it. Thread-safe: encodes on one dictionary
/// are serialised by its mutex, so image ids follow the order encode() calls return in.
class GlzDictionary {
 public:
  /// `window_pixels`: the client's glz_dictionary_window_size (clamped to
  /// 0..kGlzMaxWindowPixels). Images larger than the window are not GLZ-encoded.
  explicit GlzDictionary(int64_t window_pixels);
  ~GlzDictionary();
  GlzDictionary(const GlzDictionary&) = delete;
  GlzDictionary& operator=(const GlzDictionary&) = delete;

  uint32_t window_pixels() const { return window_limit_; }

  /// Forgets every image: later images reference none of them, and the next one tells the
  /// client to free them all. Ids continue. For when images may not have reached the
  /// client (a display channel closed with data still queued).
  void restart();

  struct Stats {
    uint64_t images = 0;       ///< images encoded
    uint64_t referencing = 0;  ///< of those, images with a copy from an earlier image
    uint64_t cross_pixels = 0; ///< pixels copied from earlier images
    uint64_t evicted = 0;      ///< images that left the window
    uint64_t window_images = 0;
    uint64_t window_pixels = 0;
    uint64_t last_id = 0;      ///< id of the newest image (valid when images > 0)
  };
  Stats stats() const;

 private:
  friend class GlzEncoder;
  struct State;
  const uint32_t window_limit_;
  mutable std::mutex mu_;
  std::unique_ptr<State> state_;  // guarded by mu_
};

/// An earlier image that probably resembles the next one: pixel (x, y) of the new image is
/// likely pixel (x + dx, y + dy) of image `id` (e.g. the previous picture of the same
/// screen area). Only a hint: a wrong or evicted one costs speed, never correctness.
struct GlzHint {
  uint64_t id = 0;
  int32_t dx = 0;
  int32_t dy = 0;
};

/// The GLZ encoder over one dictionary: encode() returns glz, or zlib_glz where `zlib` is
/// set and deflating makes the stream smaller (codec() is zlib_glz then). Every image it returns is
/// in the dictionary and must be sent; `Unsupported` (empty, or larger than the window)
/// leaves the dictionary as it was. encode() is const and thread-safe (see GlzDictionary).
class GlzEncoder final : public ImageEncoder {
 public:
  GlzEncoder(std::shared_ptr<GlzDictionary> dict, bool zlib);
  ImageCodec codec() const override { return zlib_ ? ImageCodec::zlib_glz : ImageCodec::glz; }
  /// encode(img, nothing, nullptr): the hint is the newest earlier image of the same size.
  EncodeResult encode(const ImageView& img) const override;
  /// Encodes `img` (see GlzHint); `*id` (if not null) receives the image's id when the
  /// result is an EncodedImage.
  EncodeResult encode(const ImageView& img, std::optional<GlzHint> hint, uint64_t* id) const;
  const std::shared_ptr<GlzDictionary>& dictionary() const { return dict_; }

 private:
  std::shared_ptr<GlzDictionary> dict_;
  bool zlib_;
};

/// A GLZ encoder over `dict` (shared with the client's other display channels).
std::unique_ptr<GlzEncoder> make_glz_encoder(std::shared_ptr<GlzDictionary> dict, bool zlib);

}  // namespace spiceflow::encode
