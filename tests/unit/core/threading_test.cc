// The compute thread count shared by every layer.
#include "optimum/core/threading.h"

#include <gtest/gtest.h>
#include <omp.h>

#include "optimum/core/errors.h"
#include "test_util.h"

namespace optimum {
namespace {

using test_util::throws_with;

TEST(Threading, SetAndRestoreDefault) {
  const int initial = num_threads();
  EXPECT_GE(initial, 1);
  set_num_threads(3);
  EXPECT_EQ(num_threads(), 3);
  EXPECT_EQ(omp_get_max_threads(), 3);  // the OpenMP pool follows
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  set_num_threads(0);
  EXPECT_GE(num_threads(), 1);
  set_num_threads(initial);
}

TEST(Threading, NegativeCountThrowsNamingIt) {
  EXPECT_TRUE(throws_with<InvalidArgument>([] { set_num_threads(-2); }, {"-2"}));
}

}  // namespace
}  // namespace optimum
