#pragma once
// A test-only GLZ decoder and client-side window, written from the format as spice-gtk's
// decode-glz.c / decode-glz-tmpl.c read it (RGB32), stricter than the client where the
// client would misbehave instead of failing:
//  - a copy from an image the window no longer holds (or never got) is an error (spice-gtk
//    waits for it forever);
//  - a copy from another image must end inside that image (spice-gtk checks only its start);
//  - the stream must end exactly on the last pixel with every byte consumed.
// Window release as the client does it: images are added by id; once the ids up to the
// newest are contiguous, images older than newest.id - newest.win_head_dist are freed.
#include <zlib.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace spiceflow::encode::testing {

struct GlzHeader {
  uint32_t width = 0, height = 0, stride = 0;
  uint8_t type = 0;
  bool top_down = false;
  uint64_t id = 0;
  uint32_t win_head_dist = 0;
};

struct GlzDecoded {
  GlzHeader hdr;
  std::vector<uint32_t> pixels;  // xRGB, X = 0
  size_t copies = 0;
  size_t cross_copies = 0;       // from earlier images
  size_t long_offsets = 0;       // pixel_flag 1
  size_t very_long_offsets = 0;  // pixel_flag 1 with the extra offset byte
  size_t max_image_dist = 0;
  size_t short_far_images = 0;  // pixel_flag 0 with image-distance bytes
  size_t long_far_images = 0;   // pixel_flag 1 with image-distance bytes
};

class GlzWindow {
 public:
  /// Decodes one GLZ stream and adds the image to the window (releasing what its header
  /// allows). Returns an error message, or nothing.
  std::optional<std::string> decode(const std::vector<uint8_t>& d, GlzDecoded& out) {
    size_t at = 0;
    auto byte = [&]() -> std::optional<uint8_t> {
      if (at >= d.size()) return std::nullopt;
      return d[at++];
    };
    auto be = [&](int n) -> std::optional<uint64_t> {
      uint64_t v = 0;
      for (int i = 0; i < n; ++i) {
        auto b = byte();
        if (!b) return std::nullopt;
        v = v << 8 | *b;
      }
      return v;
    };
    auto magic = be(4), version = be(4);
    auto type = byte();
    auto w = be(4), h = be(4), stride = be(4), id = be(8), head = be(4);
    if (!head) return "truncated header";
    if (*magic != 0x20205a4c) return "bad magic";
    if (*version != 0x00010001) return "bad version";
    GlzHeader& hd = out.hdr;
    hd.type = *type & 0x0f;
    hd.top_down = (*type >> 4) != 0;
    if (hd.type != 8) return "type is not RGB32";
    hd.width = uint32_t(*w);
    hd.height = uint32_t(*h);
    hd.stride = uint32_t(*stride);
    hd.id = *id;
    hd.win_head_dist = uint32_t(*head);
    if (images_.count(hd.id)) return "image id " + std::to_string(hd.id) + " decoded twice";
    const size_t n = size_t(hd.width) * hd.height;
    if (n == 0) return "empty image";
    out.pixels.assign(n, 0xdeadbeef);
    std::vector<uint32_t>& px = out.pixels;
    size_t op = 0;
    while (op < n) {
      auto ctrl = byte();
      if (!ctrl) return "truncated stream";
      if (*ctrl < 32) {
        const size_t count = size_t(*ctrl) + 1;
        if (op + count > n) return "literals past the end";
        for (size_t k = 0; k < count; ++k) {
          auto b = byte(), g = byte(), r = byte();
          if (!r) return "truncated literal";
          px[op++] = uint32_t(*r) << 16 | uint32_t(*g) << 8 | *b;
        }
        continue;
      }
      size_t len = *ctrl >> 5;
      const bool pixel_flag = (*ctrl >> 4) & 1;
      size_t ofs = *ctrl & 0x0f;
      if (len == 7) {
        for (;;) {
          auto c = byte();
          if (!c) return "truncated length";
          len += *c;
          if (*c != 255) break;
        }
      }
      auto c = byte();
      if (!c) return "truncated offset";
      ofs += size_t(*c) << 4;
      c = byte();
      if (!c) return "truncated image distance";
      const int image_flag = (*c >> 6) & 3;
      size_t dist = 0;
      if (!pixel_flag) {
        dist = *c & 0x3f;
        for (int i = 0; i < image_flag; ++i) {
          auto e = byte();
          if (!e) return "truncated image distance";
          dist += size_t(*e) << (6 + 8 * i);
        }
        if (image_flag) ++out.short_far_images;
      } else {
        const bool very_long = (*c >> 5) & 1;
        ofs += size_t(*c & 0x1f) << 12;
        for (int i = 0; i < image_flag; ++i) {
          auto e = byte();
          if (!e) return "truncated image distance";
          dist += size_t(*e) << (8 * i);
        }
        if (image_flag) ++out.long_far_images;
        ++out.long_offsets;
        if (very_long) {
          auto e = byte();
          if (!e) return "truncated offset";
          ofs += size_t(*e) << 17;
          ++out.very_long_offsets;
        }
      }
      if (op + len > n) return "copy past the end";
      ++out.copies;
      if (dist == 0) {
        const size_t back = ofs + 1;
        if (back > op) return "copy from before the start";
        for (size_t k = 0; k < len; ++k, ++op) px[op] = px[op - back];
        continue;
      }
      if (dist > hd.id) return "copy from an image id below 0";
      const uint64_t ref_id = hd.id - dist;
      auto it = images_.find(ref_id);
      if (it == images_.end()) {
        return "copy from image " + std::to_string(ref_id) +
               ", which the client does not hold (image " + std::to_string(hd.id) + ")";
      }
      const std::vector<uint32_t>& ref = it->second.pixels;
      if (ofs >= ref.size()) return "copy offset outside the referenced image";
      if (ofs + len > ref.size()) return "copy runs past the end of the referenced image";
      for (size_t k = 0; k < len; ++k) px[op++] = ref[ofs + k];
      ++out.cross_copies;
      out.max_image_dist = std::max(out.max_image_dist, dist);
    }
    if (at != d.size()) return std::to_string(d.size() - at) + " bytes left over";
    add(out);
    return std::nullopt;
  }

  /// ZLIB_GLZ_RGB: inflates `z` (which must give exactly glz_size bytes), then decodes.
  std::optional<std::string> decode_zlib(const std::vector<uint8_t>& z, uint32_t glz_size,
                                         GlzDecoded& out) {
    std::vector<uint8_t> glz(glz_size);
    uLongf size = glz_size;
    if (uncompress(glz.data(), &size, z.data(), uLong(z.size())) != Z_OK) return "inflate failed";
    if (size != glz_size) return "inflated size differs from glz_data_size";
    return decode(glz, out);
  }

  /// Ids the window holds now.
  std::vector<uint64_t> held() const {
    std::vector<uint64_t> ids;
    for (const auto& [id, img] : images_) ids.push_back(id);
    return ids;
  }
  bool holds(uint64_t id) const { return images_.count(id) != 0; }

 private:
  struct Held {
    std::vector<uint32_t> pixels;
    uint32_t win_head_dist = 0;
  };

  void add(const GlzDecoded& img) {
    images_[img.hdr.id] = Held{img.pixels, img.hdr.win_head_dist};
    // spice-gtk's tail_gap starts at 0 with the session: ids must start there.
    while (tail_gap_ <= img.hdr.id && images_.count(tail_gap_)) ++tail_gap_;
    if (tail_gap_ == 0 || !images_.count(tail_gap_ - 1)) return;
    const Held& newest = images_.at(tail_gap_ - 1);
    const uint64_t oldest = tail_gap_ - 1 - newest.win_head_dist;
    images_.erase(images_.begin(), images_.lower_bound(oldest));
  }

  std::map<uint64_t, Held> images_;
  uint64_t tail_gap_ = 0;  // the lowest id not received yet
};

}  // namespace spiceflow::encode::testing
