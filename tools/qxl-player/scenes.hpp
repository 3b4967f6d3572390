#pragma once
/// The player's deterministic workloads. A scene draws frame n through QxlDevice's calls
/// (fills, bitmap copies, copy_bits, cursor); what it draws depends on n only, so two runs
/// with the same frame count end on the same picture. Frame 0 covers the whole screen.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace spiceflow::player {

class QxlDevice;

class Scene {
 public:
  virtual ~Scene() = default;
  /// Draws frame n (0 = the first, full paint). Main thread.
  virtual void frame(QxlDevice& dev, uint64_t n) = 0;
};

struct SceneSize {
  int width;
  int height;
};

/// "office|text-scroll|window-drag|video720|motion1080|motion4k".
const char* scene_names();
/// The desktop size a scene runs at; false for an unknown name.
bool scene_size(std::string_view name, SceneSize* size);
std::unique_ptr<Scene> make_scene(std::string_view name);

/// Paints the latency pixel code (frame id, now_us()) at (0,0) with one QXL_DRAW_COPY of a
/// 640x8 bitmap.
void draw_pixel_code(QxlDevice& dev, uint32_t frame_id);

}  // namespace spiceflow::player
