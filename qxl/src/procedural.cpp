#include "procedural.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include "paint.hpp"

namespace spiceflow::qxl {
namespace {

constexpr const char* kSubsystems[] = {
    "usb 1-2",
    "xhci_hcd",
    "ext4-fs (vda1)",
    "virtio_net",
    "qxl 0000:00:02.0",
    "audit",
    "systemd[1]",
    "nfs",
    "kvm",
    "pci 0000:00:1f.2",
    "EXT4-fs",
    "input",
    "drm",
};

constexpr const char* kWords[] = {
    "the",     "a",       "of",       "spice",    "display",    "surface", "frame",    "guest",
    "client",  "server",  "channel",  "cursor",   "stream",     "encoder", "buffer",   "queue",
    "ring",    "device",  "memory",   "page",     "link",       "port",    "timer",    "clock",
    "video",   "image",   "window",   "region",   "update",     "request", "reply",    "state",
    "session", "agent",   "monitor",  "config",   "mode",       "size",    "copy",     "fill",
    "blit",    "scroll",  "draw",     "commit",   "flush",      "ready",   "done",     "ok",
    "started", "stopped", "attached", "detached", "registered", "enabled", "disabled", "timeout",
    "retry",   "pending", "mapped",   "unmapped", "and",        "with",    "from",     "to",
    "on",
};

constexpr const char* kProse[] = {
    "The",    "remote",     "desktop", "shows", "what",   "the",   "guest",   "draws,",
    "frame",  "after",      "frame.",  "Each",  "window", "keeps", "its",     "own",
    "pixels", "while",      "the",     "user",  "types",  "and",   "scrolls", "through",
    "long",   "documents;", "a",       "short", "video",  "plays", "in",      "the",
    "corner", "and",        "the",     "clock", "ticks",  "on.",   "Nothing", "here",
    "is",     "random:",    "every",   "line",  "comes",  "from",  "its",     "number.",
};

template <size_t N>
const char* pick(const char* const (&words)[N], uint64_t h) {
  return words[h % N];
}

}  // namespace

std::string log_line(uint64_t index, size_t max_chars) {
  uint64_t h = mix64(index * 0x51ed2701ull + 7);
  char stamp[40];
  // Timestamps grow with the index as a real log's do.
  const uint64_t us = index * 13417 + h % 13000;
  std::snprintf(stamp, sizeof stamp, "[%5llu.%06llu] %s: ", (unsigned long long)(us / 1000000),
                (unsigned long long)(us % 1000000), pick(kSubsystems, h >> 8));
  std::string line = stamp;
  const int words = 3 + int((h >> 20) % 14);
  for (int i = 0; i < words; ++i) {
    h = mix64(h + uint64_t(i));
    if (i > 0) line += ' ';
    if ((h & 7) == 0) {
      char num[24];
      std::snprintf(num, sizeof num, (h & 8) ? "0x%llx" : "%llu",
                    (unsigned long long)((h >> 16) & 0xfffff));
      line += num;
    } else {
      line += pick(kWords, h >> 4);
    }
  }
  if (line.size() > max_chars) line.resize(max_chars);
  return line;
}

uint32_t log_line_color(uint64_t index) {
  const uint64_t h = mix64(index ^ 0xc0ffee);
  if (h % 29 == 0) return rgb(255, 90, 80);
  if (h % 11 == 0) return rgb(240, 200, 80);
  if (h % 5 == 0) return rgb(120, 220, 140);
  return rgb(200, 200, 200);
}

std::string prose_line(uint64_t index, size_t max_chars) {
  uint64_t h = mix64(index + 0x1234);
  std::string line;
  // Ragged right edge as in a real document: fill to a varying width.
  const size_t target = max_chars - std::min<size_t>(max_chars, size_t(h % 12));
  size_t w = size_t(h >> 8) % std::size(kProse);
  while (true) {
    const char* word = kProse[w % std::size(kProse)];
    const size_t add = std::char_traits<char>::length(word) + (line.empty() ? 0 : 1);
    if (line.size() + add > target) break;
    if (!line.empty()) line += ' ';
    line += word;
    ++w;
  }
  if (mix64(index * 3) % 9 == 0) line.clear();  // paragraph breaks
  return line;
}

void draw_wallpaper(Image& img, uint32_t top, uint32_t bottom, uint64_t seed) {
  const int w = img.width();
  const int h = img.height();
  struct Disc {
    int x, y, r;
    uint32_t color;
  };
  std::vector<Disc> discs;
  for (int i = 0; i < 6; ++i) {
    const uint64_t k = mix64(seed + uint64_t(i));
    const int r = std::max(4, int(std::min(w, h) * int(10 + k % 20) / 100));
    discs.push_back({int((k >> 8) % uint64_t(std::max(w, 1))),
                     int((k >> 24) % uint64_t(std::max(h, 1))), r,
                     blend(top, rgb(255, 255, 255), 40 + int((k >> 40) % 60))});
  }
  for (int y = 0; y < h; ++y) {
    uint32_t* row = img.row(y);
    const uint32_t base = blend(top, bottom, h > 1 ? y * 256 / (h - 1) : 0);
    const uint32_t weave = blend(base, rgb(255, 255, 255), 14);
    for (int x = 0; x < w; ++x)
      row[x] = ((x + y) % 24 < 2 || (x - y + 4096) % 24 < 2) ? weave : base;
    for (const Disc& d : discs) {
      const int dy = y - d.y;
      if (dy <= -d.r || dy >= d.r) continue;
      // Integer square root of the chord half-width; exact sqrt is deterministic anyway.
      int half = 0;
      while ((half + 1) * (half + 1) <= d.r * d.r - dy * dy) ++half;
      const int x0 = std::max(0, d.x - half);
      const int x1 = std::min(w, d.x + half + 1);
      for (int x = x0; x < x1; ++x) row[x] = blend(row[x], d.color, 60);
    }
  }
}

namespace {

// A 1024-entry cyclic palette of saturated, smoothly varying colours with every channel in
// 16..239, so grain of +-8 never carries into a neighbouring channel.
const std::array<uint32_t, 1024>& plasma_palette() {
  static const std::array<uint32_t, 1024> kPalette = [] {
    std::array<uint32_t, 1024> p{};
    for (int i = 0; i < 1024; ++i) {
      auto ch = [&](int phase) { return uint8_t(128 + (isin(i * 4 + phase) * 111) / 16384); };
      p[size_t(i)] = rgb(ch(0), ch(1365), ch(2730));
    }
    return p;
  }();
  return kPalette;
}

}  // namespace

void draw_plasma(Image& img, int64_t time_ms, bool grain) {
  const int w = img.width();
  const int h = img.height();
  if (w <= 0 || h <= 0) return;
  const auto& palette = plasma_palette();
  const int t = int(time_ms % (4096LL * 1000));
  // Three waves (across, down, diagonal), each in 0..256, whose sum indexes the palette.
  // Frequencies are relative to the image size so a small and a large plasma look alike.
  std::vector<int> col(static_cast<size_t>(w));
  std::vector<int> row(static_cast<size_t>(h));
  std::vector<int> diag(static_cast<size_t>(w + h));
  const int64_t fx = 4096LL * 3 * 256 / w;  // three periods across, in 1/256 angle steps
  const int64_t fy = 4096LL * 2 * 256 / h;
  const int64_t fd = 4096LL * 3 * 256 / (w + h);
  for (int x = 0; x < w; ++x) {
    const int a = int((x * fx) >> 8) + t / 4;
    const int b = int((x * fx * 5 / 3) >> 8) - t / 7;
    col[size_t(x)] = (isin(a) + isin(b) + 32768) >> 8;
  }
  for (int y = 0; y < h; ++y) row[size_t(y)] = (isin(int((y * fy) >> 8) + t / 5) + 16384) >> 7;
  for (int i = 0; i < w + h; ++i) diag[size_t(i)] = (isin(int((i * fd) >> 8) - t / 3) + 16384) >> 7;
  const int shift = t / 8;
  for (int y = 0; y < h; ++y) {
    uint32_t* out = img.row(y);
    const int ry = row[size_t(y)] + shift;
    const int* dg = diag.data() + (h - 1 - y);  // diag index x - y + h - 1
    if (!grain) {
      for (int x = 0; x < w; ++x) out[x] = palette[size_t((col[size_t(x)] + dg[x] + ry) & 1023)];
      continue;
    }
    uint32_t s = uint32_t(mix64(uint64_t(time_ms) * 65537 + uint64_t(y))) | 1;
    for (int x = 0; x < w; ++x) {
      s ^= s << 13;
      s ^= s >> 17;
      s ^= s << 5;
      const int g = int(s & 15) - 8;
      out[x] = palette[size_t((col[size_t(x)] + dg[x] + ry) & 1023)] + uint32_t(g * 0x010101);
    }
  }
  // Translucent discs drifting across, so the picture has edges that move, as filmed
  // objects do, not only smooth colour waves.
  constexpr uint32_t kAlpha = 150;  // of 256
  for (int i = 0; i < 5; ++i) {
    const int r = std::max(2, h * (4 + 2 * i) / 64);
    const int cx = w / 2 + int(int64_t(w / 2 + r) * isin(t / (9 + 2 * i) + i * 800) / 16384);
    const int cy = h / 2 + int(int64_t(h / 2) * isin(t / (13 + 3 * i) + i * 1500) / 16384);
    const uint32_t tint =
        blend(palette[size_t((i * 200 + t / 16) & 1023)], rgb(255, 255, 255), 100);
    // Blend red and blue together and green alone, two multiplies a pixel.
    const uint32_t tint_rb = (tint & 0xff00ff) * kAlpha;
    const uint32_t tint_g = (tint & 0x00ff00) * kAlpha;
    for (int y = std::max(0, cy - r + 1); y < std::min(h, cy + r); ++y) {
      const int dy = y - cy;
      // sqrt is exactly rounded in IEEE arithmetic, so this stays deterministic.
      const int half = int(std::sqrt(double(r * r - dy * dy)));
      uint32_t* out = img.row(y);
      for (int x = std::max(0, cx - half); x < std::min(w, cx + half + 1); ++x) {
        const uint32_t p = out[x];
        const uint32_t rb = (((p & 0xff00ff) * (256 - kAlpha) + tint_rb) >> 8) & 0xff00ff;
        const uint32_t g = (((p & 0x00ff00) * (256 - kAlpha) + tint_g) >> 8) & 0x00ff00;
        out[x] = 0xff000000u | rb | g;
      }
    }
  }
}

}  // namespace spiceflow::qxl
