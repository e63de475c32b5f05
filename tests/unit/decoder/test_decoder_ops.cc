// Decoder kernels (decoder_ops.h): each fast path against its `_reference`
// twin (double accumulation) over odd sizes, strides, GQA groups, sliding
// windows, soft-capping and several ragged segments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "optimum/core/errors.h"
#include "optimum/kernels/decoder_ops.h"

namespace optimum::kernels {
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng) * scale;
  return v;
}

void expect_near(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], tol * (1.0f + std::fabs(b[i]))) << "at " << i;
}

TEST(DecoderOps, RmsNormMatchesReference) {
  for (int64_t cols : {1, 7, 16, 33, 576}) {
    for (float offset : {0.0f, 1.0f}) {
      const int64_t rows = 5, ld = cols + 3;
      auto x = randn(static_cast<size_t>(rows * ld), 1);
      auto w = randn(static_cast<size_t>(cols), 2);
      std::vector<float> fast(static_cast<size_t>(rows * cols)), ref(fast.size());
      rms_norm(x.data(), ld, w.data(), offset, 1e-6, rows, cols, fast.data(), cols);
      rms_norm_reference(x.data(), ld, w.data(), offset, 1e-6, rows, cols, ref.data(), cols);
      expect_near(fast, ref, 1e-5f);
    }
  }
}

TEST(DecoderOps, RmsNormInPlace) {
  const int64_t rows = 3, cols = 40;
  auto x = randn(static_cast<size_t>(rows * cols), 3);
  auto w = randn(static_cast<size_t>(cols), 4);
  std::vector<float> ref(x.size());
  rms_norm_reference(x.data(), cols, w.data(), 0.0f, 1e-5, rows, cols, ref.data(), cols);
  rms_norm(x.data(), cols, w.data(), 0.0f, 1e-5, rows, cols, x.data(), cols);
  expect_near(x, ref, 1e-5f);
}

TEST(DecoderOps, RopeMatchesReferenceWithPartialRotary) {
  for (int64_t rot : {32, 16, 8}) {
    const int64_t rows = 4, heads = 3, hd = 32, ld = heads * hd + 5;
    auto x = randn(static_cast<size_t>(rows * ld), 5);
    auto ang = randn(static_cast<size_t>(rows * rot / 2), 6, 3.0f);
    std::vector<float> c(ang.size()), s(ang.size());
    for (size_t i = 0; i < ang.size(); ++i) {
      c[i] = std::cos(ang[i]);
      s[i] = std::sin(ang[i]);
    }
    auto fast = x, ref = x;
    rope_apply(fast.data(), ld, rows, heads, hd, rot, c.data(), s.data());
    rope_apply_reference(ref.data(), ld, rows, heads, hd, rot, c.data(), s.data());
    expect_near(fast, ref, 1e-6f);
    // Dims past the rotary ones and the row padding are untouched.
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t i = rot; i < hd; ++i) EXPECT_EQ(fast[r * ld + h * hd + i], x[r * ld + h * hd + i]);
      }
      for (int64_t i = heads * hd; i < ld; ++i) EXPECT_EQ(fast[r * ld + i], x[r * ld + i]);
    }
  }
}

TEST(DecoderOps, GatedActivation) {
  const int64_t rows = 3, n = 37;
  auto gu = randn(static_cast<size_t>(rows * 2 * n), 7);
  std::vector<float> out(static_cast<size_t>(rows * n));
  gated_activation(gu.data(), rows, n, Activation::Silu, out.data());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      const double g = gu[r * 2 * n + j], u = gu[r * 2 * n + n + j];
      EXPECT_NEAR(out[r * n + j], g / (1 + std::exp(-g)) * u, 1e-5);
    }
  }
}

struct AttentionCase {
  int64_t heads, heads_kv, head_dim, window;
  float softcap;
};

TEST(DecoderOps, CachedAttentionMatchesReference) {
  const std::vector<AttentionCase> cases = {
      {4, 4, 16, 0, 0.0f}, {4, 2, 16, 0, 0.0f}, {6, 1, 24, 0, 0.0f}, {4, 2, 8, 5, 0.0f}, {2, 1, 33, 3, 20.0f}};
  for (const AttentionCase& ac : cases) {
    const int64_t capacity = 80;
    // (past, count): prefill, decode, continuation, several task chunks.
    const std::vector<std::pair<int64_t, int64_t>> shape = {{0, 7}, {12, 1}, {3, 5}, {0, 21}, {10, 45}};
    int64_t rows = 0;
    for (auto [p, n] : shape) rows += n;
    const int64_t qcols = ac.heads * ac.head_dim;
    auto q = randn(static_cast<size_t>(rows * (qcols + 3)), 8);
    const size_t kv_size = static_cast<size_t>(ac.heads_kv * capacity * ac.head_dim);
    std::vector<std::vector<float>> ks, vs;
    std::vector<CachedAttentionSegment> segs;
    int64_t row0 = 0;
    for (size_t i = 0; i < shape.size(); ++i) {
      ks.push_back(randn(kv_size, 100 + static_cast<uint32_t>(i)));
      vs.push_back(randn(kv_size, 200 + static_cast<uint32_t>(i)));
    }
    for (size_t i = 0; i < shape.size(); ++i) {
      segs.push_back({row0, shape[i].second, shape[i].first, ks[i].data(), vs[i].data()});
      row0 += shape[i].second;
    }
    CachedAttentionArgs a;
    a.q = q.data();
    a.ld_q = qcols + 3;
    a.ld_out = qcols;
    a.segments = segs.data();
    a.n_segments = static_cast<int64_t>(segs.size());
    a.heads = ac.heads;
    a.heads_kv = ac.heads_kv;
    a.head_dim = ac.head_dim;
    a.capacity = capacity;
    a.scale = 1.0f / std::sqrt(static_cast<float>(ac.head_dim));
    a.softcap = ac.softcap;
    a.sliding_window = ac.window;
    std::vector<float> fast(static_cast<size_t>(rows * qcols)), ref(fast.size());
    a.out = fast.data();
    cached_attention(a);
    a.out = ref.data();
    cached_attention_reference(a);
    expect_near(fast, ref, 1e-5f);
  }
}

TEST(DecoderOps, CachedAttentionRefusesOverCapacity) {
  std::vector<float> q(16), k(16), v(16), out(16);
  CachedAttentionSegment seg{0, 2, 1, k.data(), v.data()};
  CachedAttentionArgs a;
  a.q = q.data();
  a.ld_q = 8;
  a.out = out.data();
  a.ld_out = 8;
  a.segments = &seg;
  a.n_segments = 1;
  a.heads = a.heads_kv = 1;
  a.head_dim = 8;
  a.capacity = 2;
  EXPECT_THROW(cached_attention(a), InvalidArgument);
  EXPECT_THROW(cached_attention_reference(a), InvalidArgument);
}

}  // namespace
}  // namespace optimum::kernels
