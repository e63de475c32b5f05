// safe_join: the one path-joining function for untrusted relative paths.
#include <gtest/gtest.h>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
#include "test_util.h"

namespace optimum {
namespace {

namespace fs = std::filesystem;
using test_util::TempDir;
using test_util::throws_with;

TEST(SafeJoin, JoinsPlainRelativePaths) {
  TempDir dir;
  EXPECT_EQ(safe_join(dir.path(), "a/b/c.txt", "file"), dir.path() / "a" / "b" / "c.txt");
  EXPECT_EQ(safe_join(dir.path(), "./a//b/", "file"), dir.path() / "a" / "b");
  EXPECT_EQ(safe_join(dir.path(), "", "file"), dir.path());
  EXPECT_EQ(safe_join(dir.path(), "v1.0..x", "file"), dir.path() / "v1.0..x") << "'..' inside a name is fine";
}

TEST(SafeJoin, RefusesAbsoluteTraversalAndControlBytes) {
  TempDir dir;
  const auto refused = [&](std::string_view relative, const std::string& why) {
    return throws_with<InvalidArgument>([&] { safe_join(dir.path(), relative, "module path"); },
                                        {"module path", why, dir.path().string()});
  };
  EXPECT_TRUE(refused("/etc/passwd", "absolute"));
  EXPECT_TRUE(refused("..", "'..'"));
  EXPECT_TRUE(refused("a/../../x", "'..'"));
  EXPECT_TRUE(refused("../sibling", "'..'"));
  EXPECT_TRUE(refused(std::string_view("a\0b", 3), "NUL"));
  EXPECT_TRUE(refused("a\nb", "control character"));
  EXPECT_TRUE(refused("a\\..\\b", "backslash"));
  // The value is quoted with its control bytes escaped.
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { safe_join(dir.path(), "x\ny", "file"); }, {"'x\\x0ay'"}));
}

TEST(SafeJoin, RefusesSymlinksThatLeadOutside) {
  TempDir dir;
  const fs::path root = dir.path() / "root";
  const fs::path outside = dir.path() / "outside";
  fs::create_directories(root / "inside");
  fs::create_directories(outside);
  fs::create_symlink(outside, root / "out_dir");
  fs::create_symlink(dir.path() / "missing" / "authorized_keys", root / "dangling");
  fs::create_symlink("../root/inside", root / "back_in");
  fs::create_symlink("../../outside", root / "inside" / "up");
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { safe_join(root, "out_dir/file", "file"); },
                                           {"file", "'out_dir/file'", "symlink", outside.string()}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { safe_join(root, "out_dir", "file"); }, {"symlink"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { safe_join(root, "dangling", "file"); }, {"authorized_keys"}))
      << "a dangling symlink counts where it points";
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { safe_join(root, "inside/up/x", "file"); }, {"outside"}));
  EXPECT_EQ(safe_join(root, "back_in/new.txt", "file"), root / "back_in" / "new.txt");
  // A root reached through a symlink is fine: both sides are resolved.
  fs::create_symlink(root, dir.path() / "root_link");
  EXPECT_EQ(safe_join(dir.path() / "root_link", "inside/x", "file"),
            dir.path() / "root_link" / "inside" / "x");
}

TEST(SafeJoin, SymlinkLoopsAreAnError) {
  TempDir dir;
  fs::create_symlink("b", dir.path() / "a");
  fs::create_symlink("a", dir.path() / "b");
  EXPECT_TRUE(throws_with<IoError>([&] { safe_join(dir.path(), "a/x", "file"); }, {"symbolic links"}));
}

TEST(ResolvedLocation, FollowsRelativeAbsoluteAndDanglingLinks) {
  TempDir dir;
  fs::create_directories(dir.path() / "d");
  fs::create_symlink("d", dir.path() / "rel");
  fs::create_symlink(dir.path() / "nowhere" / "deep", dir.path() / "abs");
  const fs::path real_dir = fs::canonical(dir.path());
  EXPECT_EQ(resolved_location(dir.path() / "rel" / "f"), real_dir / "d" / "f");
  EXPECT_EQ(resolved_location(dir.path() / "abs" / "f"), real_dir / "nowhere" / "deep" / "f");
  EXPECT_EQ(resolved_location(dir.path() / "d" / ".." / "rel"), real_dir / "d");
}

TEST(QuoteUntrusted, EscapesAndCuts) {
  EXPECT_EQ(quote_untrusted("main"), "'main'");
  EXPECT_EQ(quote_untrusted(std::string_view("a\0'\\", 4)), "'a\\x00\\x27\\x5c'");
  EXPECT_EQ(quote_untrusted(std::string(300, 'x')), "'" + std::string(200, 'x') + "...'");
}

}  // namespace
}  // namespace optimum
