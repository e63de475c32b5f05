// Element-wise kernels and attention against scalar / double references:
// every tail length of the vector loops, special values, masks, packed rows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "optimum/core/dtype.h"
#include "optimum/kernels/ops.h"

namespace optimum::kernels {
namespace {

TEST(ToBf16, EqualsScalarRoundingAtEveryTailLength) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 10.0f);
  std::vector<float> x(67);
  for (float& v : x) v = d(rng);
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::max(), 1.00390625f /* tie, even below */,
                            1.01171875f /* tie, odd below */, 3.3895314e38f /* rounds to inf */};
  for (size_t i = 0; i < std::size(specials); ++i) x[i * 3] = specials[i];
  for (int64_t n = 0; n <= 67; ++n) {
    std::vector<uint16_t> got(static_cast<size_t>(n) + 1, 0xABCD);
    to_bf16_span(x.data(), n, got.data());
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(got[static_cast<size_t>(i)], float_to_bf16(x[static_cast<size_t>(i)])) << "n=" << n << " i=" << i;
    }
    EXPECT_EQ(got[static_cast<size_t>(n)], 0xABCD) << "wrote past the end, n=" << n;
  }
  std::vector<uint16_t> all(x.size());
  to_bf16(x.data(), static_cast<int64_t>(x.size()), all.data());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(all[i], float_to_bf16(x[i]));
}

}  // namespace
}  // namespace optimum::kernels
