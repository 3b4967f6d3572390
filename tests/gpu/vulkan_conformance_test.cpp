// The Vulkan raster backend against the CPU backend (the reference semantics): random and
// edge-case command sequences on both, requiring the same result (error or damage) for every
// command and bit-identical surfaces after every batch. Runs on whatever Vulkan device exists
// (lavapipe in CI) with VK_LAYER_KHRONOS_validation enabled, and fails on any validation
// error. Without a Vulkan device (or the layer) the tests skip and say why.
#include <gtest/gtest.h>
#include <spice/enums.h>

#include <array>
#include <climits>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>

#include "spiceflow/gpu/raster.hpp"

namespace spiceflow::gpu {
namespace {

std::string describe(const Rect& r) {
  return std::to_string(r.width) + "x" + std::to_string(r.height) + "+" + std::to_string(r.x) + "+" +
         std::to_string(r.y);
}

// Both backends side by side, fed the same commands.
class Twins {
 public:
  explicit Twins(bool staging = false) {
    auto cpu = make_raster("cpu");
    EXPECT_TRUE(cpu.ok());
    cpu_ = std::move(*cpu);
    RasterOptions o;
    o.vulkan_validation = true;
    o.vulkan_staging_readback = staging;
    auto vk = make_raster("vulkan", o);
    if (!vk) {
      skip_reason_ = vk.error().message;
      return;
    }
    vk_ = std::move(*vk);
  }
  const std::string& skip_reason() const { return skip_reason_; }
  RasterBackend& cpu() { return *cpu_; }
  RasterBackend& vk() { return *vk_; }

  void create(uint32_t id, Size size) {
    const bool a = cpu_->create_surface(id, size).ok();
    const bool b = vk_->create_surface(id, size).ok();
    ASSERT_EQ(a, b) << "create_surface " << id;
    if (a) sizes_[id] = size;
  }
  void destroy(uint32_t id) {
    cpu_->destroy_surface(id);
    vk_->destroy_surface(id);
    sizes_.erase(id);
  }

  // Applies `cmds` (CPU: one by one; Vulkan: as one batch) and compares every result.
  void apply(const std::vector<DrawCommand>& cmds, const std::string& what) {
    auto got = vk_->apply_batch(cmds);
    ASSERT_EQ(got.size(), cmds.size());
    for (size_t i = 0; i < cmds.size(); ++i) {
      auto want = cpu_->apply(cmds[i]);
      ASSERT_EQ(want.ok(), got[i].ok())
          << what << " command " << i << " (op " << cmds[i].op.index() << "): cpu "
          << (want.ok() ? "ok" : want.error().message) << ", vulkan "
          << (got[i].ok() ? "ok" : got[i].error().message);
      if (want.ok() && !want->empty()) ++drawn_[cmds[i].op.index()];
      if (want.ok()) {
        ASSERT_EQ(*want, *got[i]) << what << " command " << i << " (op " << cmds[i].op.index()
                                  << "): damage cpu " << describe(*want) << ", vulkan "
                                  << describe(*got[i]);
      }
    }
  }

  // Every surface bit-identical.
  void compare(const std::string& what) {
    for (const auto& [id, size] : sizes_) {
      const ImageView a = cpu_->view(id);
      const ImageView b = vk_->view(id);
      ASSERT_EQ(a.size(), b.size());
      for (int32_t y = 0; y < a.height; ++y) {
        for (int32_t x = 0; x < a.width; ++x) {
          ASSERT_EQ(a.pixel(x, y), b.pixel(x, y))
              << what << ": surface " << id << " pixel " << x << "," << y << " (cpu " << std::hex
              << a.pixel(x, y) << ", vulkan " << b.pixel(x, y) << ")";
        }
      }
    }
  }

  const std::map<uint32_t, Size>& sizes() const { return sizes_; }
  /// Commands that drew something, per DrawOp alternative.
  const std::map<size_t, int>& drawn() const { return drawn_; }

 private:
  std::map<size_t, int> drawn_;
  std::unique_ptr<RasterBackend> cpu_;
  std::unique_ptr<RasterBackend> vk_;
  std::string skip_reason_;
  std::map<uint32_t, Size> sizes_;
};

#define SKIP_WITHOUT_VULKAN(t) \
  if (!(t).skip_reason().empty()) GTEST_SKIP() << "no Vulkan backend here: " << (t).skip_reason()

// Random commands over a few surfaces.
class Gen {
 public:
  Gen(uint32_t seed, const std::map<uint32_t, Size>& sizes) : rng_(seed), sizes_(sizes) {}

  int32_t uni(int32_t lo, int32_t hi) { return std::uniform_int_distribution<int32_t>(lo, hi)(rng_); }
  bool chance(int percent) { return uni(0, 99) < percent; }
  uint32_t word() { return uint32_t(rng_()); }

  Rect rect_in(Size s) {
    if (chance(3)) return Rect{uni(-5, 5), uni(-5, 5), uni(-2, 0), uni(0, 4)};  // empty
    if (chance(2)) return Rect{INT32_MAX - uni(0, 10), uni(0, 4), uni(5, 50), uni(1, 9)};  // overflows
    const int32_t x = uni(-3, s.width + 1), y = uni(-3, s.height + 1);
    return Rect{x, y, uni(1, s.width + 4), uni(1, s.height + 4)};
  }

  std::shared_ptr<Image> image(int32_t w, int32_t h, bool premultiplied = false) {
    auto img = std::make_shared<Image>(w, h);
    const bool few_colors = chance(40);  // so colour keys hit
    for (int32_t y = 0; y < h; ++y) {
      for (int32_t x = 0; x < w; ++x) {
        uint32_t p = few_colors ? palette_[size_t(uni(0, 3))] : word();
        if (premultiplied) {
          const uint32_t a = p >> 24;
          uint32_t out = a << 24;
          for (int sh = 0; sh < 24; sh += 8) out |= ((((p >> sh) & 0xff) * a) / 255) << sh;
          p = chance(90) ? out : p;  // a few deliberately not premultiplied (saturation)
        }
        img->row(y)[x] = p;
      }
    }
    return img;
  }

  Mask mask(const Rect& box) {
    Mask m;
    m.size = {uni(1, std::max(1, std::min(box.width, 40)) + 2), uni(1, std::max(1, std::min(box.height, 40)) + 2)};
    m.bits.resize(size_t(m.size.width) * size_t(m.size.height));
    for (auto& b : m.bits) b = uint8_t(chance(50));
    m.pos = {uni(-3, 3), uni(-3, 3)};
    m.invert = chance(30);
    if (chance(3)) m.bits.pop_back();  // malformed
    return m;
  }

  uint16_t rop_descriptor() {
    static const uint16_t ops[] = {SPICE_ROPD_OP_PUT, SPICE_ROPD_OP_OR, SPICE_ROPD_OP_AND, SPICE_ROPD_OP_XOR,
                                   SPICE_ROPD_OP_BLACKNESS, SPICE_ROPD_OP_WHITENESS, SPICE_ROPD_OP_INVERS, 0};
    uint16_t d = ops[uni(0, 7)];
    if (chance(30)) d |= SPICE_ROPD_INVERS_SRC;
    if (chance(30)) d |= SPICE_ROPD_INVERS_BRUSH;
    if (chance(30)) d |= SPICE_ROPD_INVERS_DEST;
    if (chance(30)) d |= SPICE_ROPD_INVERS_RES;
    if (chance(10)) d |= ops[uni(0, 7)];
    return d;
  }

  uint32_t surface_id() {
    auto it = sizes_.begin();
    std::advance(it, uni(0, int32_t(sizes_.size()) - 1));
    return chance(2) ? 99 : it->first;  // 99: missing
  }

  ImageSource source(Size* size, bool premultiplied = false) {
    ImageSource s;
    if (chance(35)) {
      const uint32_t id = surface_id();
      s.surface_id = id;
      auto it = sizes_.find(id);
      *size = it == sizes_.end() ? Size{8, 8} : it->second;
      return s;
    }
    *size = {uni(1, 40), uni(1, 30)};
    s.image = image(size->width, size->height, premultiplied);
    s.has_alpha = premultiplied;
    if (chance(1)) s.image.reset();
    return s;
  }

  // An area of a `size` source, mostly inside it, sized like `box` unless scaling.
  Rect area(Size size, const Rect& box, bool scaled) {
    Rect a;
    if (scaled) {
      a = Rect{uni(0, size.width - 1), uni(0, size.height - 1), uni(1, size.width), uni(1, size.height)};
    } else {
      a = Rect{uni(0, std::max(0, size.width - 1)), uni(0, std::max(0, size.height - 1)), box.width, box.height};
    }
    if (chance(5)) a.x += uni(-3, 3);
    return a;
  }

  Brush brush() {
    Brush b;
    const int k = uni(0, 9);
    if (k < 5) {
      b.kind = Brush::Kind::solid;
      b.color = word();
    } else if (k < 9) {
      b.kind = Brush::Kind::pattern;
      Size s;
      b.pattern = source(&s);
      b.pattern_pos = {uni(-20, 20), uni(-20, 20)};
      if (chance(3)) b.pattern_pos = {INT32_MIN + uni(0, 9), INT32_MAX - uni(0, 9)};
    }
    return b;
  }

  DrawCommand command() {
    DrawCommand c;
    c.surface_id = surface_id();
    auto it = sizes_.find(c.surface_id);
    const Size s = it == sizes_.end() ? Size{16, 16} : it->second;
    if (chance(30)) c.clip = rect_in(s);
    if (chance(25)) {
      const int n = uni(1, 4);
      for (int i = 0; i < n; ++i) c.clip_rects.push_back(rect_in(s));
    }
    const Rect box = rect_in(s);
    switch (uni(0, 15)) {
      case 0:
        c.op = FillOp{box, word()};
        break;
      case 1: {
        auto img = image(uni(1, s.width + 3), uni(1, s.height + 3));
        c.op = BlitOp{box, img, {uni(-1, 3), uni(-1, 3)}};
        break;
      }
      case 2:
        c.op = CopyBitsOp{box, {uni(-4, s.width), uni(-4, s.height)}};
        break;
      case 3: {
        BrushFillOp f;
        f.box = box;
        f.brush = brush();
        f.rop_descriptor = chance(30) ? uint16_t(SPICE_ROPD_OP_PUT) : rop_descriptor();
        if (chance(25)) f.mask = mask(box);
        c.op = f;
        break;
      }
      case 4:
      case 5: {
        CopyOp o;
        o.box = box;
        Size size;
        o.src = source(&size);
        const bool scaled = chance(30);
        o.src_area = area(size, box, scaled);
        o.rop_descriptor = chance(40) ? uint16_t(SPICE_ROPD_OP_PUT) : rop_descriptor();
        o.scale_mode = chance(85) ? SPICE_IMAGE_SCALE_MODE_NEAREST : SPICE_IMAGE_SCALE_MODE_INTERPOLATE;
        if (chance(20)) o.mask = mask(box);
        o.blend = chance(10);
        c.op = o;
        break;
      }
      case 6: {
        SolidRopOp o;
        o.kind = SolidRopOp::Kind(uni(0, 2));
        o.box = box;
        if (chance(40)) o.mask = mask(box);
        c.op = o;
        break;
      }
      case 7: {
        TransparentOp o;
        o.box = box;
        Size size;
        o.src = source(&size);
        o.src_area = area(size, box, chance(30));
        o.true_color = palette_[size_t(uni(0, 3))] ^ (chance(50) ? 0xff000000u : 0);
        o.src_color = word();
        c.op = o;
        break;
      }
      case 8:
      case 9: {
        AlphaBlendOp o;
        o.box = box;
        Size size;
        o.src = source(&size, chance(70));
        o.src_area = area(size, box, chance(30));
        o.alpha = chance(30) ? 255 : chance(10) ? 0 : uint8_t(uni(1, 254));
        o.alpha_flags = chance(50) ? SPICE_ALPHA_FLAGS_SRC_SURFACE_HAS_ALPHA : 0;
        c.op = o;
        break;
      }
      case 10: {
        TextOp t;
        t.box = box;
        t.fore_brush = chance(90) ? Brush{Brush::Kind::solid, word(), {}, {}} : brush();
        t.bpp = uint8_t(std::array{1, 4, 8}[size_t(uni(0, 2))]);
        const int glyphs = uni(0, 5);
        for (int i = 0; i < glyphs; ++i) {
          Glyph g;
          g.render_pos = {box.x + uni(-2, 12), box.y + uni(-2, 12)};
          g.glyph_origin = {uni(-3, 1), uni(-3, 1)};
          g.size = {uni(1, 9), uni(1, 9)};
          g.coverage.resize(size_t(g.size.width * g.size.height));
          for (auto& v : g.coverage) v = chance(30) ? 0 : chance(30) ? 255 : uint8_t(uni(0, 255));
          if (chance(3)) g.coverage.pop_back();  // malformed
          t.glyphs.push_back(g);
        }
        if (chance(40)) {
          t.back_area = chance(70) ? box : rect_in(s);
          t.back_brush = brush();
          t.fore_mode = chance(85) ? SPICE_ROPD_OP_PUT : SPICE_ROPD_OP_OR;
        }
        c.op = t;
        break;
      }
      case 11: {
        OpaqueOp o;
        o.box = box;
        Size size;
        o.src = source(&size);
        o.src_area = area(size, box, chance(20));
        o.brush = brush();
        o.rop_descriptor = rop_descriptor();
        o.scale_mode = chance(85) ? SPICE_IMAGE_SCALE_MODE_NEAREST : SPICE_IMAGE_SCALE_MODE_INTERPOLATE;
        if (chance(20)) o.mask = mask(box);
        c.op = o;
        break;
      }
      case 12: {
        Rop3Op o;
        o.box = box;
        Size size;
        o.src = source(&size);
        o.src_area = area(size, box, chance(15));
        o.brush = chance(70) ? Brush{Brush::Kind::solid, word(), {}, {}} : brush();
        o.rop3 = uint8_t(uni(0, 255));
        o.scale_mode = chance(85) ? SPICE_IMAGE_SCALE_MODE_NEAREST : SPICE_IMAGE_SCALE_MODE_INTERPOLATE;
        if (chance(20)) o.mask = mask(box);
        c.op = o;
        break;
      }
      case 13: {
        CompositeOp o;
        o.box = box;
        Size size;
        o.src = source(&size, chance(70));
        o.flags = uint32_t(uni(0, 13)) | uint32_t(uni(0, 4)) << 8 | uint32_t(uni(0, 3)) << 14;
        if (chance(30)) o.src_transform = Transform{uni(0x8000, 0x30000), 0, uni(-0x40000, 0x40000), 0,
                                                    uni(0x8000, 0x30000), uni(-0x40000, 0x40000)};
        if (chance(40)) {
          o.mask = source(&size, true);
          o.flags |= SPICE_COMPOSITE_HAS_MASK | uint32_t(uni(0, 3)) << 16 |
                     (chance(30) ? uint32_t(SPICE_COMPOSITE_COMPONENT_ALPHA) : 0u);
        }
        o.src_origin = {uni(-5, 5), uni(-5, 5)};
        o.mask_origin = {uni(-5, 5), uni(-5, 5)};
        c.op = o;
        break;
      }
      case 14: {
        StrokeOp o;
        o.box = box;
        PathSegment seg;
        seg.flags = SPICE_PATH_BEGIN | SPICE_PATH_END | (chance(20) ? SPICE_PATH_CLOSE : 0);
        const int n = uni(1, 5);
        for (int i = 0; i < n; ++i) seg.points.push_back({uni(-40, (s.width + 8) * 16), uni(-40, (s.height + 8) * 16)});
        o.path.push_back(seg);
        if (chance(30)) {
          o.line_flags = SPICE_LINE_FLAGS_STYLED | (chance(50) ? SPICE_LINE_FLAGS_START_WITH_GAP : 0);
          for (int i = uni(0, 4); i > 0; --i) o.style.push_back(uint32_t(uni(0, 6 * 16)));
        }
        o.brush = brush();
        o.fore_mode = rop_descriptor();
        c.op = o;
        break;
      }
      default: {
        Rop3Op o;  // no source: an error on both backends
        o.box = box;
        c.op = o;
        break;
      }
    }
    return c;
  }

 private:
  std::mt19937 rng_;
  const std::map<uint32_t, Size>& sizes_;
  const uint32_t palette_[4] = {0xff102030u, 0x00405060u, 0x80ffffffu, 0xff000000u};
};

void random_sequences(bool staging, int seeds) {
  const Size shapes[] = {{1, 1}, {3, 5}, {17, 9}, {64, 33}, {97, 61}, {130, 70}};
  std::map<size_t, int> drawn;
  for (int seed = 1; seed <= seeds; ++seed) {
    Twins t(staging);
    SKIP_WITHOUT_VULKAN(t);
    std::mt19937 pick{uint32_t(seed)};
    t.create(0, shapes[pick() % std::size(shapes)]);
    t.create(1, shapes[pick() % std::size(shapes)]);
    t.create(2, shapes[pick() % std::size(shapes)]);
    // Start from noise so rops and blends see varied destinations.
    for (const auto& [id, size] : t.sizes()) {
      Gen g(uint32_t(seed * 7 + id), t.sizes());
      t.apply({DrawCommand{id, {}, BlitOp{Rect::from_size(size), g.image(size.width, size.height), {0, 0}}, {}}},
              "noise");
    }
    Gen gen(uint32_t(seed), t.sizes());
    for (int batch = 0; batch < 12; ++batch) {
      std::vector<DrawCommand> cmds;
      const int n = gen.uni(1, 24);
      for (int i = 0; i < n; ++i) cmds.push_back(gen.command());
      const std::string what = "seed " + std::to_string(seed) + " batch " + std::to_string(batch);
      t.apply(cmds, what);
      if (::testing::Test::HasFatalFailure()) return;
      t.compare(what);
      if (::testing::Test::HasFatalFailure()) return;
      if (batch == 6 && gen.chance(50)) t.create(1, shapes[pick() % std::size(shapes)]);  // replaced
    }
    EXPECT_EQ(t.vk().stats().validation_errors, 0u) << "seed " << seed;
    for (const auto& [op, n] : t.drawn()) drawn[op] += n;
  }
  // The generator reaches every op it makes, not only its error cases.
  const DrawOp kinds[] = {FillOp{}, BlitOp{}, CopyBitsOp{}, BrushFillOp{}, CopyOp{}, SolidRopOp{},
                          TransparentOp{}, AlphaBlendOp{}, TextOp{}, OpaqueOp{}, Rop3Op{}, CompositeOp{},
                          StrokeOp{}};
  for (const DrawOp& k : kinds) EXPECT_GT(drawn[k.index()], seeds / 2) << "op " << k.index();
}

// SPICEFLOW_CONFORMANCE_SEEDS=N runs N seeds instead of 40 (for longer local runs).
int seed_count() {
  const char* env = std::getenv("SPICEFLOW_CONFORMANCE_SEEDS");
  return env && std::atoi(env) > 0 ? std::atoi(env) : 40;
}

TEST(VulkanConformance, RandomSequencesMatchTheCpuBackend) { random_sequences(false, seed_count()); }

TEST(VulkanConformance, RandomSequencesMatchThroughStagingReadback) { random_sequences(true, 10); }

TEST(VulkanConformance, OneSubmissionPerBatch) {
  Twins t;
  SKIP_WITHOUT_VULKAN(t);
  t.create(0, {64, 48});
  const uint64_t before = t.vk().stats().submissions;
  std::vector<DrawCommand> cmds;
  for (int i = 0; i < 50; ++i) {
    cmds.push_back(DrawCommand{0, {}, FillOp{{i, i / 2, 9, 7}, 0x123456u * uint32_t(i)}, {}});
    cmds.push_back(DrawCommand{0, {}, CopyBitsOp{{i / 3, i / 4, 20, 20}, {i / 2, 1}}, {}});
  }
  t.apply(cmds, "fills and copies");
  EXPECT_EQ(t.vk().stats().submissions, before + 1);
  EXPECT_EQ(t.vk().stats().fallbacks, 0u);
  t.compare("fills and copies");
  EXPECT_EQ(t.vk().stats().validation_errors, 0u);
}

TEST(VulkanConformance, CopyBitsInEveryDirectionAndOddSizes) {
  for (Size s : {Size{1, 1}, Size{2, 1}, Size{1, 7}, Size{33, 17}, Size{129, 65}}) {
    Twins t;
    SKIP_WITHOUT_VULKAN(t);
    t.create(0, s);
    Gen g(5, t.sizes());
    t.apply({DrawCommand{0, {}, BlitOp{Rect::from_size(s), g.image(s.width, s.height), {0, 0}}, {}}}, "noise");
    std::vector<DrawCommand> cmds;
    for (int dy = -2; dy <= 2; ++dy) {
      for (int dx = -2; dx <= 2; ++dx) {
        cmds.push_back({0, {}, CopyBitsOp{{1 + dx, 1 + dy, s.width, s.height}, {1, 1}}, {}});
        cmds.push_back({0, {}, CopyBitsOp{{1 + dx, 1 + dy, s.width, s.height}, {1, 1}}, {{0, 0, s.width, 2}, {1, 1, 3, s.height}}});
      }
    }
    t.apply(cmds, "scrolls");
    t.compare("scrolls " + describe(Rect::from_size(s)));
    EXPECT_EQ(t.vk().stats().validation_errors, 0u);
  }
}

TEST(VulkanConformance, SurfaceToSurfaceAndSelfCopies) {
  Twins t;
  SKIP_WITHOUT_VULKAN(t);
  t.create(0, {40, 30});
  t.create(5, {23, 11});
  Gen g(9, t.sizes());
  t.apply({{0, {}, BlitOp{{0, 0, 40, 30}, g.image(40, 30), {0, 0}}, {}},
           {5, {}, BlitOp{{0, 0, 23, 11}, g.image(23, 11), {0, 0}}, {}}},
          "noise");
  std::vector<DrawCommand> cmds;
  for (uint16_t rop : {uint16_t(SPICE_ROPD_OP_PUT), uint16_t(SPICE_ROPD_OP_XOR), uint16_t(SPICE_ROPD_OP_AND | SPICE_ROPD_INVERS_SRC)}) {
    for (uint32_t src : {0u, 5u}) {
      CopyOp c;
      c.box = {3, 2, 20, 9};
      c.src.surface_id = src;
      c.src_area = {1, 1, 20, 9};
      c.rop_descriptor = rop;
      c.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
      cmds.push_back({0, {}, c, {}});
      c.src_area = {0, 0, 11, 5};  // scaled up
      cmds.push_back({0, {}, c, {}});
      c.box = {0, 0, 7, 3};  // scaled down
      cmds.push_back({0, {}, c, {{0, 0, 3, 3}, {2, 1, 5, 1}}});
    }
  }
  t.apply(cmds, "surface copies");
  t.compare("surface copies");
  EXPECT_EQ(t.vk().stats().fallbacks, 0u);
  EXPECT_EQ(t.vk().stats().validation_errors, 0u);
}

TEST(VulkanConformance, PartialReadbackIsCurrentWhereAsked) {
  Twins t(true);
  SKIP_WITHOUT_VULKAN(t);
  t.create(0, {50, 40});
  t.apply({{0, {}, FillOp{{5, 5, 30, 20}, 0x00abcdefu}, {}}}, "fill");
  const Rect asked[] = {{4, 4, 10, 3}, {30, 20, 20, 20}};
  const ImageView v = t.vk().view(0, asked);
  const ImageView c = t.cpu().view(0);
  for (const Rect& r : asked) {
    for (int32_t y = r.y; y < r.bottom(); ++y) {
      for (int32_t x = r.x; x < r.right(); ++x) ASSERT_EQ(v.pixel(x, y), c.pixel(x, y)) << x << "," << y;
    }
  }
  EXPECT_EQ(t.vk().stats().readback_bytes, uint64_t(10 * 3 + 20 * 20) * 4);
}

TEST(VulkanConformance, OpaqueAndRop3RunOnTheDevice) {
  Twins t;
  SKIP_WITHOUT_VULKAN(t);
  t.create(0, {37, 23});
  t.create(1, {19, 11});
  Gen g(5, t.sizes());
  t.apply({{0, {}, BlitOp{{0, 0, 37, 23}, g.image(37, 23), {0, 0}}, {}},
           {1, {}, BlitOp{{0, 0, 19, 11}, g.image(19, 11), {0, 0}}, {}}},
          "noise");
  auto src = g.image(40, 30);
  std::vector<DrawCommand> cmds;
  for (int code = 0; code < 256; ++code) {
    Rop3Op o;
    o.box = {code % 9 - 2, code % 7 - 1, 12 + code % 5, 9 + code % 3};
    o.src.image = src;
    o.src_area = {code % 11, code % 13, o.box.width, o.box.height};
    if (code % 4 == 1) {
      o.src.image.reset();
      o.src.surface_id = code % 8 == 1 ? 0u : 1u;  // itself (a snapshot) or another surface
      o.src_area = {code % 5, code % 3, std::min(o.box.width, 14), std::min(o.box.height, 8)};
      o.box.width = o.src_area.width;
      o.box.height = o.src_area.height;
    }
    o.brush = code % 3 == 0 ? Brush{} : Brush{Brush::Kind::solid, g.word(), {}, {}};
    if (code % 4 == 2) {
      o.brush = g.brush();
      if (o.brush.pattern.surface_id) o.brush.pattern.surface_id = code % 8 == 2 ? 0u : 1u;
    }
    o.rop3 = uint8_t(code);
    if (code % 5 == 0) o.mask = g.mask(o.box);
    if (code % 7 == 3 && o.brush.kind != Brush::Kind::pattern) {  // scaled with the nearest filter
      o.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
      o.src_area = {code % 5, code % 4, 1 + code % 13, 1 + code % 9};
    }
    std::vector<Rect> rects;
    if (code % 6 == 0) rects = {{0, 0, 9, 9}, {5, 3, 20, 8}};
    cmds.push_back({0, code % 10 == 0 ? Rect{1, 1, 30, 15} : Rect{}, o, rects});
  }
  for (int i = 0; i < 120; ++i) {
    OpaqueOp o;
    o.box = {i % 9 - 2, i % 7 - 1, 10 + i % 6, 8 + i % 4};
    Size size;
    o.src = g.source(&size);
    if (o.src.surface_id && *o.src.surface_id == 99) o.src.surface_id = 1;
    if (o.src.surface_id) size = t.sizes().at(*o.src.surface_id);
    o.src_area = g.area(size, o.box, i % 7 == 0);
    o.brush = g.brush();
    if (o.brush.pattern.surface_id) o.brush.pattern.surface_id = 1;  // not itself (that one falls back)
    o.rop_descriptor = g.rop_descriptor();
    o.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;  // smooth scaling falls back
    if (i % 5 == 0) o.mask = g.mask(o.box);
    cmds.push_back({0, {}, o, i % 6 == 0 ? std::vector<Rect>{{0, 0, 9, 9}, {5, 3, 20, 8}} : std::vector<Rect>{}});
  }
  t.apply(cmds, "rop3 and opaque");
  t.compare("rop3 and opaque");
  EXPECT_EQ(t.vk().stats().fallbacks, 0u);
  EXPECT_EQ(t.vk().stats().validation_errors, 0u);
  EXPECT_GT(t.drawn().at(DrawOp{Rop3Op{}}.index()), 150);
  EXPECT_GT(t.drawn().at(DrawOp{OpaqueOp{}}.index()), 15);
}

TEST(VulkanConformance, StrokesRunOnTheDevice) {
  Twins t;
  SKIP_WITHOUT_VULKAN(t);
  t.create(0, {61, 47});
  t.create(1, {7, 5});
  Gen g(9, t.sizes());
  t.apply({{0, {}, BlitOp{{0, 0, 61, 47}, g.image(61, 47), {0, 0}}, {}},
           {1, {}, BlitOp{{0, 0, 7, 5}, g.image(7, 5), {0, 0}}, {}}},
          "noise");
  std::vector<DrawCommand> cmds;
  for (int i = 0; i < 150; ++i) {
    StrokeOp o;
    o.box = i % 4 == 0 ? Rect{5, 3, 40, 30} : Rect{-10, -10, 90, 70};
    const int subpaths = 1 + i % 3;
    for (int k = 0; k < subpaths; ++k) {
      PathSegment seg;
      seg.flags = SPICE_PATH_BEGIN | SPICE_PATH_END | (i % 5 == 0 ? SPICE_PATH_CLOSE : 0);
      const int n = g.uni(2, 7);
      for (int j = 0; j < n; ++j) seg.points.push_back({g.uni(-200, 70 * 16), g.uni(-200, 55 * 16)});
      if (i % 7 == 0) {  // a curve
        seg.flags |= SPICE_PATH_BEZIER;
        seg.points.resize(4);
      }
      o.path.push_back(seg);
    }
    if (i % 3 == 0) {
      o.line_flags = SPICE_LINE_FLAGS_STYLED | (i % 2 ? SPICE_LINE_FLAGS_START_WITH_GAP : 0);
      for (int k = g.uni(1, 5); k > 0; --k) o.style.push_back(uint32_t(g.uni(1, 6) * 16 + g.uni(0, 15)));
    }
    o.brush = g.brush();
    if (o.brush.pattern.surface_id) o.brush.pattern.surface_id = i % 2 ? 0u : 1u;
    // xor and invert show any pixel drawn once too often or too rarely.
    o.fore_mode = i % 2 ? uint16_t(SPICE_ROPD_OP_XOR) : g.rop_descriptor();
    std::vector<Rect> rects;
    if (i % 6 == 0) rects = {{0, 0, 30, 30}, {20, 10, 30, 30}, {50, 0, 5, 47}};
    cmds.push_back({0, i % 8 == 0 ? Rect{2, 2, 50, 40} : Rect{}, o, rects});
  }
  t.apply(cmds, "strokes");
  t.compare("strokes");
  EXPECT_EQ(t.vk().stats().fallbacks, 0u);
  EXPECT_EQ(t.vk().stats().validation_errors, 0u);
  EXPECT_GT(t.drawn().at(DrawOp{StrokeOp{}}.index()), 100);
}

TEST(VulkanConformance, PorterDuffCompositesRunOnTheDevice) {
  Twins t;
  SKIP_WITHOUT_VULKAN(t);
  t.create(0, {53, 41});
  t.create(1, {9, 6});
  Gen g(13, t.sizes());
  t.apply({{0, {}, BlitOp{{0, 0, 53, 41}, g.image(53, 41), {0, 0}}, {}},
           {1, {}, BlitOp{{0, 0, 9, 6}, g.image(9, 6), {0, 0}}, {}}},
          "noise");
  std::vector<DrawCommand> cmds;
  for (int i = 0; i < 200; ++i) {
    CompositeOp o;
    o.box = {g.uni(-6, 40), g.uni(-6, 30), g.uni(1, 30), g.uni(1, 25)};
    Size size;
    o.src = g.source(&size, g.chance(70));
    if (o.src.surface_id) o.src.surface_id = i % 3 == 0 ? 0u : 1u;  // itself (a snapshot) or another
    o.flags = uint32_t(i % 13) | uint32_t(g.uni(0, 4)) << 8 | uint32_t(g.uni(0, 3)) << 14;
    if (g.chance(50)) {
      o.mask = g.source(&size, g.chance(80));
      if (o.mask.surface_id) o.mask.surface_id = 1;
      o.flags |= SPICE_COMPOSITE_HAS_MASK | uint32_t(g.uni(0, 3)) << 16 | uint32_t(g.uni(0, 4)) << 11;
    }
    o.src_origin = {g.uni(-20, 20), g.uni(-20, 20)};
    o.mask_origin = {g.uni(-20, 20), g.uni(-20, 20)};
    std::vector<Rect> rects;
    if (i % 5 == 0) rects = {{0, 0, 20, 20}, {10, 5, 30, 30}};
    cmds.push_back({0, i % 7 == 0 ? Rect{3, 3, 40, 30} : Rect{}, o, rects});
  }
  t.apply(cmds, "composites");
  t.compare("composites");
  EXPECT_EQ(t.vk().stats().fallbacks, 0u);
  EXPECT_EQ(t.vk().stats().validation_errors, 0u);
  EXPECT_GT(t.drawn().at(DrawOp{CompositeOp{}}.index()), 120);
}

TEST(VulkanConformance, PatternTextRunsOnTheDevice) {
  Twins t;
  SKIP_WITHOUT_VULKAN(t);
  t.create(0, {45, 30});
  t.create(1, {5, 7});
  Gen g(17, t.sizes());
  t.apply({{0, {}, BlitOp{{0, 0, 45, 30}, g.image(45, 30), {0, 0}}, {}},
           {1, {}, BlitOp{{0, 0, 5, 7}, g.image(5, 7), {0, 0}}, {}}},
          "noise");
  std::vector<DrawCommand> cmds;
  for (int i = 0; i < 60; ++i) {
    TextOp o;
    o.box = {g.uni(-4, 20), g.uni(-4, 15), g.uni(5, 40), g.uni(5, 30)};
    o.bpp = uint8_t(std::array{1, 4, 8}[size_t(i % 3)]);
    o.fore_brush.kind = Brush::Kind::pattern;
    if (i % 2) {
      o.fore_brush.pattern.surface_id = 1;
    } else {
      o.fore_brush.pattern.image = g.image(g.uni(1, 6), g.uni(1, 6));
    }
    o.fore_brush.pattern_pos = {g.uni(-9, 9), g.uni(-9, 9)};
    o.fore_mode = SPICE_ROPD_OP_PUT;
    for (int k = g.uni(1, 4); k > 0; --k) {
      Glyph gl;
      gl.render_pos = {o.box.x + g.uni(-2, 20), o.box.y + g.uni(0, 20)};
      gl.glyph_origin = {g.uni(-2, 1), g.uni(-8, 0)};
      gl.size = {g.uni(1, 9), g.uni(1, 9)};
      for (int n = gl.size.width * gl.size.height; n > 0; --n) gl.coverage.push_back(uint8_t(g.uni(0, 255)));
      o.glyphs.push_back(gl);
    }
    if (i % 4 == 0) {
      o.back_area = o.box;
      o.back_brush = Brush{Brush::Kind::solid, g.word(), {}, {}};
    }
    std::vector<Rect> rects;
    if (i % 5 == 0) rects = {{0, 0, 20, 20}, {10, 5, 30, 30}};
    cmds.push_back({0, {}, o, rects});
  }
  t.apply(cmds, "pattern text");
  t.compare("pattern text");
  EXPECT_EQ(t.vk().stats().fallbacks, 0u);
  EXPECT_EQ(t.vk().stats().validation_errors, 0u);
  EXPECT_GT(t.drawn().at(DrawOp{TextOp{}}.index()), 40);
}

TEST(VulkanConformance, UnimplementedOpsFallBackToTheCpuTwin) {
  Twins t;
  SKIP_WITHOUT_VULKAN(t);
  t.create(0, {32, 32});
  Rop3Op rop3;
  rop3.box = {0, 0, 32, 32};
  CopyOp smooth;
  smooth.box = {0, 0, 16, 16};
  smooth.src.image = std::make_shared<Image>(4, 4);
  smooth.src_area = {0, 0, 4, 4};
  smooth.rop_descriptor = SPICE_ROPD_OP_PUT;
  smooth.scale_mode = SPICE_IMAGE_SCALE_MODE_INTERPOLATE;
  t.apply({{0, {}, FillOp{{0, 0, 32, 32}, 0x00202020u}, {}}, {0, {}, rop3, {}}, {0, {}, smooth, {}},
           {0, {}, FillOp{{8, 8, 4, 4}, 0x00ffffffu}, {}}},
          "fallbacks");
  t.compare("fallbacks");
  EXPECT_EQ(t.vk().stats().fallbacks, 2u);
  EXPECT_EQ(t.vk().stats().validation_errors, 0u);
}

TEST(VulkanConformance, EveryRopDescriptorOnEveryOperand) {
  Twins t;
  SKIP_WITHOUT_VULKAN(t);
  t.create(0, {19, 13});
  t.create(1, {7, 5});
  Gen g(11, t.sizes());
  t.apply({{0, {}, BlitOp{{0, 0, 19, 13}, g.image(19, 13), {0, 0}}, {}},
           {1, {}, BlitOp{{0, 0, 7, 5}, g.image(7, 5), {0, 0}}, {}}},
          "noise");
  auto img = g.image(9, 8);
  for (uint32_t first = 0; first <= SPICE_ROPD_MASK; first += 128) {
    std::vector<DrawCommand> cmds;
    for (uint32_t d = first; d < first + 128 && d <= SPICE_ROPD_MASK; ++d) {
      const uint16_t desc = uint16_t(d);
      const Rect box{int32_t(d % 5), int32_t(d % 3), 9, 7};
      BrushFillOp solid{box, Brush{Brush::Kind::solid, 0x5a3cc3u * d, {}, {}}, desc, {}};
      if (d % 4 == 0) solid.mask = g.mask(box);
      BrushFillOp pattern{box, g.brush(), desc, {}};
      pattern.brush.kind = Brush::Kind::pattern;
      pattern.brush.pattern = d % 2 ? ImageSource{img, false, std::nullopt, 0} : ImageSource{nullptr, false, 1u, 0};
      CopyOp copy;
      copy.box = box;
      copy.src = d % 3 ? ImageSource{img, false, std::nullopt, 0} : ImageSource{nullptr, false, 0u, 0};
      copy.src_area = d % 2 ? Rect{1, 1, 9, 7} : Rect{0, 0, 4, 3};  // unscaled and scaled
      copy.rop_descriptor = desc;
      copy.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
      std::vector<Rect> clips;
      if (d % 7 == 0) clips = {{0, 0, 6, 13}, {4, 2, 10, 4}};
      cmds.push_back({0, {}, solid, clips});
      cmds.push_back({0, {}, pattern, {}});
      cmds.push_back({0, {}, copy, clips});
    }
    t.apply(cmds, "descriptors from " + std::to_string(first));
    t.compare("descriptors from " + std::to_string(first));
    if (HasFatalFailure()) return;
  }
  EXPECT_EQ(t.vk().stats().fallbacks, 0u);
  EXPECT_EQ(t.vk().stats().validation_errors, 0u);
}

TEST(VulkanConformance, ExtremeGeometry) {
  Twins t;
  SKIP_WITHOUT_VULKAN(t);
  t.create(0, {31, 17});
  Gen g(13, t.sizes());
  t.apply({{0, {}, BlitOp{{0, 0, 31, 17}, g.image(31, 17), {0, 0}}, {}}}, "noise");
  auto img = g.image(5, 4);
  const int32_t M = INT32_MAX, m = INT32_MIN;
  std::vector<DrawCommand> cmds;
  cmds.push_back({0, {}, FillOp{{m, m, M, M}, 1}, {}});
  cmds.push_back({0, {}, FillOp{{-5, -5, M, M}, 2}, {}});
  cmds.push_back({0, {}, FillOp{{3, 3, 5, 5}, 3}, {{0, 0, 10, 10}, {M - 1, 0, 5, 5}, {2, 2, 2, 2}}});
  cmds.push_back({0, {M - 3, 0, 10, 10}, FillOp{{0, 0, 5, 5}, 4}, {}});
  cmds.push_back({0, {}, BlitOp{{-3, -2, 5, 4}, img, {0, 0}}, {}});
  cmds.push_back({0, {}, BlitOp{{29, 15, 5, 4}, img, {0, 0}}, {}});
  cmds.push_back({0, {}, BlitOp{{2, 2, 5, 4}, img, {1, 0}}, {}});  // source too small
  cmds.push_back({0, {}, CopyBitsOp{{0, 0, 31, 17}, {m + 5, 0}}, {}});
  cmds.push_back({0, {}, CopyBitsOp{{-10, -10, 60, 60}, {-9, -8}}, {}});
  cmds.push_back({0, {}, CopyBitsOp{{0, 0, 40, 3}, {1, 0}}, {{0, 0, 31, 1}}});
  BrushFillOp far{{0, 0, 31, 17}, Brush{Brush::Kind::pattern, 0, {img, false, std::nullopt, 0}, {m, M}},
                  SPICE_ROPD_OP_XOR, {}};
  cmds.push_back({0, {}, far, {}});
  BrushFillOp masked{{2, 2, 20, 10}, Brush{Brush::Kind::solid, 0xffffffu, {}, {}}, SPICE_ROPD_OP_XOR,
                     Mask{{3, 2}, {1, 0, 1, 0, 1, 1}, {M - 2, 0}, true}};
  cmds.push_back({0, {}, masked, {}});
  masked.mask.pos = {-1, -1};
  cmds.push_back({0, {}, masked, {}});
  CopyOp shrink;
  shrink.box = {0, 0, 31, 17};
  shrink.src = {img, false, std::nullopt, 0};
  shrink.src_area = {4, 3, 1, 1};  // 1x1 stretched over everything
  shrink.rop_descriptor = SPICE_ROPD_OP_PUT;
  shrink.scale_mode = SPICE_IMAGE_SCALE_MODE_NEAREST;
  cmds.push_back({0, {}, shrink, {}});
  shrink.box = {0, 0, 1, 1};
  shrink.src_area = {0, 0, 5, 4};  // everything into one pixel
  cmds.push_back({0, {}, shrink, {}});
  AlphaBlendOp wide{{1, 1, 29, 3}, {img, true, std::nullopt, 0}, {0, 1, 5, 2}, 0, 77};
  cmds.push_back({0, {}, wide, {}});
  t.apply(cmds, "extremes");
  t.compare("extremes");
  EXPECT_EQ(t.vk().stats().fallbacks, 0u);
  EXPECT_EQ(t.vk().stats().validation_errors, 0u);
}

// A loader that has nothing: the fallback logic without any Vulkan installed.
void (*no_vulkan(void*, const char*))() { return nullptr; }

TEST(VulkanSelection, NoLoaderIsAnErrorForVulkanAndCpuForAuto) {
  RasterOptions o;
  o.vulkan_get_instance_proc_addr = no_vulkan;
  auto v = make_raster("vulkan", o);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("vulkan"), std::string::npos) << v.error().message;
  auto a = make_raster("auto", o);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->name(), "cpu");
}

TEST(VulkanSelection, AutoDeclinesSoftwareDevices) {
  // With only lavapipe (CI), "auto" is the CPU backend; with a GPU it is Vulkan on it.
  auto v = make_raster("vulkan");
  if (!v) GTEST_SKIP() << "no Vulkan device: " << v.error().message;
  auto a = make_raster("auto");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE((*a)->name() == "cpu" || (*a)->name() == "vulkan");
}

}  // namespace
}  // namespace spiceflow::gpu
