#pragma once
/// Constructors of the registered synthetic workloads (one source file each). Options are
/// validated by make_synthetic() before these are called.
#include <memory>

#include "spiceflow/qxl/synthetic.hpp"

namespace spiceflow::qxl {

std::unique_ptr<SyntheticDesktop> make_office(const SyntheticOptions& opts);
std::unique_ptr<SyntheticDesktop> make_scroll_text(const SyntheticOptions& opts);
std::unique_ptr<SyntheticDesktop> make_window_drag(const SyntheticOptions& opts);
std::unique_ptr<SyntheticDesktop> make_video(const SyntheticOptions& opts);
std::unique_ptr<SyntheticDesktop> make_video_move(const SyntheticOptions& opts);
std::unique_ptr<SyntheticDesktop> make_game(const SyntheticOptions& opts);
std::unique_ptr<SyntheticDesktop> make_mixed(const SyntheticOptions& opts);

}  // namespace spiceflow::qxl
