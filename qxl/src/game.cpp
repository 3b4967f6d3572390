// "game": a full-screen first-person flight over farmland, in the manner of old "mode 7"
// racing games: a sky panorama with clouds and mountains that turns with the camera, and a
// textured ground plane in perspective with distance fog. The camera circles and sways, so
// every pixel changes every frame; the whole frame is one new image per frame.
#include <cstdio>
#include <cstring>

#include "desktop_base.hpp"
#include "workloads.hpp"

namespace spiceflow::qxl {
namespace {

constexpr int kSkyWidth = 2048;        // panorama columns per full turn
constexpr int64_t kTurnMs = 20000;     // one circle every 20 s
constexpr int64_t kSpeed = 60;         // world units per second
constexpr int64_t kCameraHeight = 48;  // world units
constexpr int kTexelsPerUnit = 4;
constexpr int kFogLevels = 16;
constexpr uint32_t kHaze = rgb(176, 200, 224);

class Game final : public DesktopBase {
 public:
  explicit Game(const SyntheticOptions& opts);

 protected:
  void paint_scene(const Canvas& c) override;
  void advance(uint64_t frame, int64_t time_ms, const Canvas& c) override;
  bool shows_cursor() const override { return false; }

 private:
  void build_sky();
  void build_ground();
  void render(Image& img, int64_t time_ms) const;

  int horizon_ = 0;
  Image sky_;
  std::vector<uint8_t> texture_;  // 256x256 palette indices
  std::vector<std::array<uint32_t, 256>> fog_palettes_;
  std::vector<int64_t> row_z_;  // ground distance per row, texels in 16.16
  std::vector<uint8_t> row_fog_;
  ImagePool pool_;
  std::shared_ptr<const Image> frame_;
  int64_t time_ms_ = -1;
};

Game::Game(const SyntheticOptions& opts) : DesktopBase("game", opts) {
  const Size sz = size();
  horizon_ = sz.height * 2 / 5;
  build_sky();
  build_ground();
  // Per-row ground distance for a pinhole camera with a 90 degree horizontal field of view.
  const int64_t focal = std::max(1, sz.width / 2);
  row_z_.assign(size_t(sz.height), 0);
  row_fog_.assign(size_t(sz.height), 0);
  for (int y = horizon_; y < sz.height; ++y) {
    const int64_t d = y - horizon_ + 1;
    const int64_t z = kCameraHeight * kTexelsPerUnit * focal * 65536 / d;
    row_z_[size_t(y)] = z;
    const int64_t units = z / 65536 / kTexelsPerUnit;
    row_fog_[size_t(y)] =
        uint8_t(std::clamp<int64_t>((units - 60) * kFogLevels / 2400, 0, kFogLevels - 1));
  }
  auto img = pool_.acquire(sz);
  render(*img, 0);
  frame_ = img;
  time_ms_ = 0;
}

void Game::build_sky() {
  sky_ = Image(kSkyWidth, std::max(horizon_, 1));
  const int h = sky_.height();
  // Value noise on a 64-pixel lattice, wrapping around the panorama, for the clouds.
  auto lattice = [](int gx, int gy) {
    return int(mix64(uint64_t(gx & 31) * 131 + uint64_t(gy) * 7919) & 255);
  };
  auto noise = [&](int x, int y, int cell) {
    const int gx = x / cell, gy = y / cell;
    const int fx = (x % cell) * 256 / cell, fy = (y % cell) * 256 / cell;
    const int top = lattice(gx, gy) * (256 - fx) + lattice(gx + 1, gy) * fx;
    const int bottom = lattice(gx, gy + 1) * (256 - fx) + lattice(gx + 1, gy + 1) * fx;
    return (top * (256 - fy) + bottom * fy) >> 16;  // 0..255
  };
  const int ridge_base = h * 3 / 4;
  for (int y = 0; y < h; ++y) {
    uint32_t* row = sky_.row(y);
    const uint32_t base = blend(rgb(30, 60, 140), kHaze, h > 1 ? y * 256 / (h - 1) : 0);
    for (int x = 0; x < kSkyWidth; ++x) {
      const int n = (noise(x, y * 3, 64) * 2 + noise(x * 2 % kSkyWidth, y * 6, 32)) / 3;
      uint32_t c = n > 140 ? blend(base, rgb(255, 255, 255), std::min(230, (n - 140) * 3)) : base;
      // Two ranges of mountains, periodic over the panorama so it joins seamlessly.
      const int far =
          ridge_base - (isin(x * 2 * 3) + isin(x * 2 * 7 + 900) + 32768) * (h / 5) / 65536;
      const int near =
          ridge_base + h / 8 - (isin(x * 2 * 5 + 300) + isin(x * 2 * 11) + 32768) * (h / 6) / 65536;
      if (y >= near)
        c = blend(rgb(50, 70, 80), kHaze, 90);
      else if (y >= far)
        c = blend(rgb(70, 90, 130), kHaze, 150);
      row[x] = c;
    }
  }
}

void Game::build_ground() {
  // Palette: 0..63 grass, 64..95 road, 96..127 wheat, 128..159 soil, 160..191 water,
  // 192..223 flowers, 224..255 road markings.
  std::array<uint32_t, 256> base{};
  for (int i = 0; i < 32; ++i) {
    base[size_t(i)] = rgb(uint8_t(40 + i), uint8_t(110 + i * 2), uint8_t(30 + i / 2));
    base[size_t(32 + i)] = rgb(uint8_t(30 + i), uint8_t(90 + i * 2), uint8_t(25 + i / 2));
    base[size_t(64 + i)] = rgb(uint8_t(90 + i), uint8_t(90 + i), uint8_t(95 + i));
    base[size_t(96 + i)] = rgb(uint8_t(200 + i), uint8_t(170 + i), uint8_t(60 + i));
    base[size_t(128 + i)] = rgb(uint8_t(110 + i), uint8_t(75 + i), uint8_t(40 + i / 2));
    base[size_t(160 + i)] = rgb(uint8_t(30 + i), uint8_t(80 + i * 2), uint8_t(160 + i * 2));
    base[size_t(192 + i)] =
        i % 4 == 0 ? rgb(230, 60, 90) : rgb(uint8_t(50 + i), uint8_t(130 + i * 2), uint8_t(40));
    base[size_t(224 + i)] = rgb(uint8_t(225 + i), uint8_t(225 + i), uint8_t(215 + i));
  }
  fog_palettes_.resize(kFogLevels);
  for (int l = 0; l < kFogLevels; ++l) {
    for (size_t i = 0; i < 256; ++i)
      fog_palettes_[size_t(l)][i] = blend(base[i], kHaze, l * 256 / (kFogLevels - 1));
  }
  texture_.assign(256 * 256, 0);
  for (int y = 0; y < 256; ++y) {
    for (int x = 0; x < 256; ++x) {
      const uint64_t cell = mix64(uint64_t(x / 64) + uint64_t(y / 64) * 4);
      const int grain = int(mix64(uint64_t(x) * 257 + uint64_t(y)) & 31);
      const int lx = x % 64, ly = y % 64;
      int idx;
      if (lx < 6 || ly < 6) {
        // Roads along the field edges with a dashed centre line.
        const bool marking =
            (lx == 2 && ly >= 6 && (y / 8) % 2 == 0) || (ly == 2 && lx >= 6 && (x / 8) % 2 == 0);
        idx = marking ? 224 + grain : 64 + grain;
      } else {
        switch (cell % 5) {
          case 0:  // ploughed field: wheat and soil in rows
            idx = (lx / 4) % 2 ? 96 + grain : 128 + grain;
            break;
          case 1:  // pond with ripples
            idx = 160 + ((grain + (isin(lx * 64 + ly * 16) >> 11)) & 31);
            break;
          case 2:  // meadow with flowers
            idx = 192 + grain;
            break;
          case 3:  // lawn in mown stripes
            idx = (ly / 3) % 2 ? 32 + grain : grain;
            break;
          default:  // wheat
            idx = 96 + grain;
            break;
        }
      }
      texture_[size_t(y * 256 + x)] = uint8_t(idx);
    }
  }
}

void Game::render(Image& img, int64_t time_ms) const {
  const int w = img.width();
  const int h = img.height();
  const int base = int(time_ms * 4096 / kTurnMs);
  const int look = base + isin(int(time_ms * 4096 / 7000)) / 64;  // sway +-22 degrees
  const int64_t radius = kSpeed * kTurnMs * 1000 / 6283185;       // circle of the flight
  const int64_t q = int64_t(kTexelsPerUnit) * 4;                  // Q14 units to texels in 16.16
  const int64_t cam_u = radius * isin(base) * q;
  const int64_t cam_v = -radius * icos(base) * q;
  const int64_t cs = icos(look);
  const int64_t sn = isin(look);

  // Sky: the panorama turns with the view.
  int offset = (look * kSkyWidth / 4096) % kSkyWidth;
  if (offset < 0) offset += kSkyWidth;
  for (int y = 0; y < std::min(horizon_, h); ++y) {
    uint32_t* out = img.row(y);
    const uint32_t* src = sky_.row(y);
    for (int x = 0; x < w;) {
      const int from = (offset + x) % kSkyWidth;
      const int n = std::min(w - x, kSkyWidth - from);
      std::memcpy(out + x, src + from, size_t(n) * 4);
      x += n;
    }
  }

  // Ground: walk each row's line across the texture in fixed point.
  const int64_t focal = std::max(1, w / 2);
  const uint8_t* tex = texture_.data();
  for (int y = std::max(horizon_, 0); y < h; ++y) {
    const int64_t z = row_z_[size_t(y)];
    const int64_t step = z / focal;
    const int64_t du = (-sn * step) >> 14;
    const int64_t dv = (cs * step) >> 14;
    const int64_t cu = cam_u + ((cs * z) >> 14);
    const int64_t cv = cam_v + ((sn * z) >> 14);
    uint32_t u = uint32_t(cu - du * (w / 2));
    uint32_t v = uint32_t(cv - dv * (w / 2));
    const uint32_t udu = uint32_t(du);
    const uint32_t vdv = uint32_t(dv);
    const uint32_t* pal = fog_palettes_[row_fog_[size_t(y)]].data();
    uint32_t* out = img.row(y);
    for (int x = 0; x < w; ++x) {
      out[x] = pal[tex[((v >> 8) & 0xff00) | ((u >> 16) & 0xff)]];
      u += udu;
      v += vdv;
    }
  }

  // A HUD, as games have, in the top-right corner.
  const int s = ui().scale;
  char hud[32];
  std::snprintf(hud, sizeof hud, "SCORE %07lld", (long long)(time_ms / 10));
  const Point at{w - ui().margin - text_width(hud, s) - 2 * s, ui().margin};
  fill_rect(img, Rect{at.x - 2 * s, at.y, text_width(hud, s) + 4 * s, ui().line_h() + 2 * s},
            rgb(0, 0, 0));
  draw_text(img, Point{at.x, at.y + s}, hud, rgb(255, 220, 40), s);
}

void Game::paint_scene(const Canvas& c) { c.blit(Point{0, 0}, frame_); }

void Game::advance(uint64_t frame, int64_t time_ms, const Canvas& c) {
  if (time_ms == time_ms_) return;
  time_ms_ = time_ms;
  auto img = pool_.acquire(size());
  render(*img, time_ms);
  frame_ = img;
  c.blit(Point{0, 0}, frame_);
}

}  // namespace

std::unique_ptr<SyntheticDesktop> make_game(const SyntheticOptions& opts) {
  return std::make_unique<Game>(opts);
}

}  // namespace spiceflow::qxl
