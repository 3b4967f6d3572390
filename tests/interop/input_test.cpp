// Input through spice-client-glib's inputs channel changes the frozen desktop: typed keys
// put characters in its text box, pointer motion moves a marker, a click leaves a dot.
// A screenshot after input differs from the one before, in a plausible place, and is
// stable afterwards.
#include <thread>

#include "harness.hpp"

namespace spiceflow::interop {
namespace {

class InputTest : public ::testing::Test {
 protected:
  /// Starts a frozen 800x600 desktop and takes the "before" screenshot.
  void start(const std::string& password = {}) {
    ServerOptions o;
    o.password = password;
    o.dump_frame = true;
    password_ = password;
    std::string message;
    status_ = server_.start(o, &message);
    if (status_ != StartStatus::kOk) {
      message_ = message;
      return;
    }
    before_ = shot("before");
  }

  Image shot(const std::string& name) {
    const auto path = dir_ / (name + "-" + std::to_string(counter_++) + ".ppm");
    RunResult r = spicy_screenshot(server_.port(), path, dir_.path(), password_);
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.describe() << "\nserver log:\n"
                              << server_.log_tail();
    std::string why;
    auto img = read_ppm(path, &why);
    EXPECT_TRUE(img) << why;
    return img.value_or(Image{});
  }

  RunResult send(const std::vector<std::string>& input_args) {
    std::vector<std::string> args = {"input", "127.0.0.1", std::to_string(server_.port())};
    if (!password_.empty()) args.insert(args.end(), {"--password", password_});
    args.insert(args.end(), input_args.begin(), input_args.end());
    return spice_client(args, dir_.path(), "input-" + std::to_string(counter_++), 30s);
  }

  /// Screenshots until one differs from `from` (input is applied asynchronously).
  Image shot_after_change(const Image& from, std::chrono::milliseconds timeout = 8s) {
    Image img;
    const auto deadline = Clock::now() + timeout;
    do {
      img = shot("after");
      if (::testing::Test::HasFailure() || !compare_images(from, img).same()) break;
      std::this_thread::sleep_for(200ms);
    } while (Clock::now() < deadline);
    return img;
  }

  TempDir dir_;
  Server server_{dir_};
  StartStatus status_ = StartStatus::kFail;
  std::string message_;
  std::string password_;
  Image before_;
  int counter_ = 0;
};

#define START_OR_SKIP(...)                                            \
  do {                                                                \
    start(__VA_ARGS__);                                               \
    if (status_ == StartStatus::kSkip) GTEST_SKIP() << message_;      \
    ASSERT_EQ(status_, StartStatus::kOk) << message_;                 \
    ASSERT_FALSE(::testing::Test::HasFailure());                      \
  } while (0)

TEST_F(InputTest, TypedKeysChangeTheFrame) {
  START_OR_SKIP();
  ImageDiff start_vs_dump = compare_images(server_.dump(), before_);
  ASSERT_TRUE(start_vs_dump.same()) << "before input: " << start_vs_dump.describe();

  // "hello" as PC/XT scancodes.
  RunResult r = send({"--keys", "0x23,0x12,0x26,0x26,0x18"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(json_number(last_line(r.out), "keys").value_or(-1), 5) << r.out;

  Image after = shot_after_change(before_);
  ASSERT_FALSE(HasFailure());
  ImageDiff d = compare_images(before_, after);
  ASSERT_FALSE(d.same()) << "typing changed nothing on screen\nserver log:\n"
                         << server_.log_tail();
  EXPECT_LT(d.differing, d.total / 2) << "typing repainted most of the screen: "
                                      << d.describe();
  EXPECT_GT(d.differing, 20u) << "five characters should take more pixels: " << d.describe();

  std::this_thread::sleep_for(300ms);
  Image again = shot("again");
  ImageDiff stable = compare_images(after, again);
  EXPECT_TRUE(stable.same()) << "frame not stable after input: " << stable.describe();
}

TEST_F(InputTest, ClickLeavesADotAtThePointer) {
  START_OR_SKIP("click-pass");
  constexpr int kX = 611, kY = 457;
  RunResult r = send({"--click", std::to_string(kX) + "," + std::to_string(kY)});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(json_number(last_line(r.out), "clicks").value_or(-1), 1) << r.out;

  Image after = shot_after_change(before_);
  ASSERT_FALSE(HasFailure());
  ImageDiff d = compare_images(before_, after);
  ASSERT_FALSE(d.same()) << "the click changed nothing\nserver log:\n" << server_.log_tail();
  EXPECT_GT(differing_near(before_, after, kX, kY, 24), 0u)
      << "nothing changed within 24 px of the click at (" << kX << "," << kY
      << "): " << d.describe();
  EXPECT_LT(d.differing, d.total / 4) << d.describe();

  std::this_thread::sleep_for(300ms);
  Image again = shot("again");
  ImageDiff stable = compare_images(after, again);
  EXPECT_TRUE(stable.same()) << "frame not stable after the click: " << stable.describe();
}

TEST_F(InputTest, PointerMotionMovesTheMarker) {
  START_OR_SKIP();
  RunResult r = send({"--move", "150,450"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  Image first = shot_after_change(before_);
  ASSERT_FALSE(HasFailure());
  ASSERT_FALSE(compare_images(before_, first).same()) << "the pointer move changed nothing";
  EXPECT_GT(differing_near(before_, first, 150, 450, 24), 0u)
      << compare_images(before_, first).describe();

  r = send({"--move", "650,120"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  Image second = shot_after_change(first);
  ASSERT_FALSE(HasFailure());
  ImageDiff d = compare_images(first, second);
  ASSERT_FALSE(d.same()) << "the second move changed nothing";
  EXPECT_GT(differing_near(first, second, 650, 120, 24), 0u) << d.describe();
  // The marker left its old place (a move leaves no dot).
  EXPECT_GT(differing_near(first, second, 150, 450, 24), 0u) << d.describe();
}

}  // namespace
}  // namespace spiceflow::interop
