// Element-wise kernels and attention against scalar / double references:
// every tail length of the vector loops, special values, masks, packed rows.
#include <gtest/gtest.h>

#include <algorithm>
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

// softmax(q·kᵀ/sqrt(d) + bias + mask)·v in double, one item and head.
struct AttentionCase {
  int64_t batch, seq, heads, head_dim;
  bool mask_holes, bias, packed, bf16;
  bool bf16_compute = false;  // q, k, v, weights in bf16: the reference rounds them the same way
};

double bf16_round(double v) { return bf16_to_float(float_to_bf16(static_cast<float>(v))); }

class AttentionShapes : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(AttentionShapes, MatchesDoubleReference) {
  const AttentionCase c = GetParam();
  const int64_t hidden = c.heads * c.head_dim;
  const int64_t ld = 3 * hidden + 5;  // q, k, v interleaved per row, as the fused QKV Linear writes them
  const int64_t rows = c.batch * c.seq;
  std::mt19937 rng(static_cast<uint32_t>(c.seq * 131 + c.head_dim));
  std::normal_distribution<float> d(0.0f, 1.5f);
  std::vector<float> qkv(static_cast<size_t>(rows * ld));
  for (float& v : qkv) v = d(rng);
  // Item lengths (packed) / masks (padded): item 0 full, item 1 shorter, a fully masked item last.
  std::vector<int64_t> mask(static_cast<size_t>(rows), 1), offsets, lengths;
  for (int64_t b = 0; b < c.batch; ++b) {
    const int64_t len = b == 0 ? c.seq : std::max<int64_t>(1, c.seq - 3 * b);
    offsets.push_back(b * c.seq);  // packed rows of item b: a prefix of its padded rows
    lengths.push_back(len);
    for (int64_t j = len; j < c.seq; ++j) mask[static_cast<size_t>(b * c.seq + j)] = 0;
    if (c.mask_holes && c.seq > 2) mask[static_cast<size_t>(b * c.seq + 1)] = 0;
  }
  if (!c.packed && c.batch > 1) {
    for (int64_t j = 0; j < c.seq; ++j) mask[static_cast<size_t>((c.batch - 1) * c.seq + j)] = 0;
  }
  std::vector<float> bias;
  if (c.bias) {
    bias.resize(static_cast<size_t>(c.heads * c.seq * c.seq));
    for (float& v : bias) v = d(rng);
  }
  std::vector<float> out(static_cast<size_t>(rows * hidden), 7.0f);
  std::vector<uint16_t> out_b(c.bf16 ? out.size() : 0);
  AttentionArgs a{qkv.data(), qkv.data() + hidden, qkv.data() + 2 * hidden, ld, mask.data(),
                  c.bias ? bias.data() : nullptr, c.batch, c.seq, c.heads, c.head_dim, out.data()};
  if (c.packed) {
    a.offsets = offsets.data();
    a.lengths = lengths.data();
  }
  if (c.bf16) a.out_bf16 = out_b.data();
  a.bf16 = c.bf16_compute;
  attention(a);
  // bf16 compute where the CPU has it (else the flag is ignored: f32).
  const bool bf16 = c.bf16_compute && attention_bf16_supported();
  const auto in = [&](size_t at) { return bf16 ? bf16_round(qkv[at]) : static_cast<double>(qkv[at]); };
  // f32 accumulation of bf16 products and a bf16 rounding of the weights
  // before ·v: about 2^-8 relative.
  const double rtol = bf16 ? 5e-3 : 2e-5;

  const double scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
  for (int64_t b = 0; b < c.batch; ++b) {
    const int64_t s = c.packed ? lengths[static_cast<size_t>(b)] : c.seq;
    for (int64_t h = 0; h < c.heads; ++h) {
      for (int64_t i = 0; i < s; ++i) {
        const auto q = static_cast<size_t>((b * c.seq + i) * ld + h * c.head_dim);
        std::vector<double> p(static_cast<size_t>(s));
        double top = -INFINITY;
        for (int64_t j = 0; j < s; ++j) {
          const auto k = static_cast<size_t>((b * c.seq + j) * ld + hidden + h * c.head_dim);
          double dot = 0;
          for (int64_t t = 0; t < c.head_dim; ++t) dot += in(q + t) * in(k + t);
          dot *= scale;
          if (c.bias) dot += bias[static_cast<size_t>((h * c.seq + i) * c.seq + j)];
          if (!c.packed && mask[static_cast<size_t>(b * c.seq + j)] == 0) dot = -INFINITY;
          p[static_cast<size_t>(j)] = dot;
          top = std::max(top, dot);
        }
        double sum = 0;
        for (double& v : p) {
          v = top == -INFINITY ? 1.0 : std::exp(v - top);
          sum += v;
          if (bf16) v = bf16_round(v);
        }
        for (int64_t t = 0; t < c.head_dim; ++t) {
          double want = 0;
          for (int64_t j = 0; j < s; ++j) {
            want += p[static_cast<size_t>(j)] / sum *
                    in(static_cast<size_t>((b * c.seq + j) * ld + 2 * hidden + h * c.head_dim + t));
          }
          const size_t at = static_cast<size_t>((b * c.seq + i) * hidden + h * c.head_dim + t);
          ASSERT_NEAR(out[at], want, rtol * (1 + std::fabs(want))) << "b=" << b << " h=" << h << " i=" << i;
          if (c.bf16) {
            ASSERT_EQ(out_b[at], float_to_bf16(out[at]));
          }
        }
      }
      for (int64_t i = s; i < c.seq; ++i) {  // packed: rows past an item's length are not touched
        EXPECT_EQ(out[static_cast<size_t>((b * c.seq + i) * hidden + h * c.head_dim)], 7.0f);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, AttentionShapes,
    ::testing::Values(AttentionCase{2, 128, 3, 32, false, false, false, false},
                      AttentionCase{3, 17, 2, 64, true, false, false, false},
                      AttentionCase{3, 65, 2, 40, false, true, false, true},
                      AttentionCase{2, 1, 4, 8, false, false, false, false},
                      AttentionCase{4, 70, 2, 80, true, true, true, false},
                      AttentionCase{3, 130, 1, 32, false, false, true, true},
                      AttentionCase{2, 9, 2, 128, true, true, false, false},
                      // bf16 compute (AMX where the CPU has it)
                      AttentionCase{2, 128, 3, 32, false, false, false, true, true},
                      AttentionCase{3, 17, 2, 64, true, false, false, false, true},
                      AttentionCase{3, 65, 2, 40, false, true, false, true, true},
                      AttentionCase{4, 70, 2, 80, true, true, true, false, true},
                      AttentionCase{3, 130, 1, 32, false, false, true, true, true},
                      AttentionCase{2, 1, 4, 8, false, false, false, false, true}));

}  // namespace
}  // namespace optimum::kernels
