#include "optimum/tokenizers/normalized_string.h"

#include <gtest/gtest.h>

namespace optimum::tokenizers {
namespace {

TEST(NormalizedString, IdentityAlignments) {
  NormalizedString s("aé");
  EXPECT_EQ(s.normalized(), "aé");
  ASSERT_EQ(s.alignments().size(), 3u);
  EXPECT_EQ(s.alignments()[1], (Offsets{1, 3}));
}

}  // namespace
}  // namespace optimum::tokenizers
