// What every op must have, checked over the whole registry: a reference kernel
// (or an exemption with its reason, reference::exemption) and, when
// differentiable, a numeric gradient case.
// Also runs the gradient cases the family test files list, one test each.
#include <gtest/gtest.h>

#include <map>

#include "ops/reference/reference.h"
#include "ops/registry.h"
#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

TEST(OpCompleteness, EveryOpHasAReferenceKernelOrAStatedExemption) {
  for (const std::string& op : builtin_ops().op_names()) {
    const bool has_reference = reference::find(op) != nullptr;
    const std::string* exemption = reference::exemption(op);
    EXPECT_TRUE(has_reference || exemption)
        << op << " has no reference kernel in ops/reference/ and no exemption in reference::exemption()";
    EXPECT_FALSE(has_reference && exemption)
        << op << " has a reference kernel, so its exemption is stale: " << *exemption;
  }
}

TEST(OpCompleteness, EveryDifferentiableOpHasANumericGradientCase) {
  std::map<std::string, std::string> case_of;  // op -> the first case naming it
  for (const GradientCase& c : all_gradient_cases())
    for (const std::string& op : c.ops) {
      EXPECT_NE(builtin_ops().find(op), nullptr) << "gradient case " << c.name << " names unknown op " << op;
      case_of.emplace(op, c.name);
    }
  for (const std::string& op : builtin_ops().op_names()) {
    if (!builtin_ops().get(op).is_differentiable()) continue;
    EXPECT_TRUE(case_of.count(op))
        << op << " is differentiable but no <family>_gradient_cases() entry in tests/ops/ checks it numerically";
  }
}

class NumericGradient : public ::testing::TestWithParam<GradientCase> {};

TEST_P(NumericGradient, Check) {
  const GradientCase& c = GetParam();
  c.check();
  for (const std::string& op : c.ops)
    EXPECT_TRUE(numerically_checked_ops().count(op)) << c.name << " names " << op << " but never checks it";
}

INSTANTIATE_TEST_SUITE_P(Cases, NumericGradient, ::testing::ValuesIn(all_gradient_cases()),
                         [](const ::testing::TestParamInfo<GradientCase>& info) { return info.param.name; });

}  // namespace
}  // namespace graphrun::testing
