// What graphrun.h promises host threads: one Session used by 8 threads x 1000
// runs gives every result the single-thread run gives, set_parameter may race
// with runs, the plan cache stays bounded while threads evict from it, the
// OpenMP setting of a host thread survives a run, and a host's TBB arena can run
// the nodes. Also built with ThreadSanitizer (scripts/test.sh).
#include <gtest/gtest.h>
#include <omp.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "graphrun/graphrun.h"
#include "runtime/exec/graph_runner.h"
#include "runtime/model_data.h"

namespace graphrun {
namespace {

const std::string kSource = GRAPHRUN_SOURCE_DIR;
const std::string kModel = kSource + "/tests/runtime/models/tiny_text.pbtxt";
constexpr int kHostThreads = 8;
constexpr int kCallsPerThread = 1000;

// Token ids for a batch of `batch` texts of 12 ids, different for every (batch, variant).
Tensor tokens(int64_t batch, int64_t variant) {
  std::vector<int64_t> ids(static_cast<size_t>(batch * 12));
  for (size_t i = 0; i < ids.size(); ++i)
    ids[i] = static_cast<int64_t>((i * 7 + static_cast<size_t>(variant) * 13) % 400);
  return Tensor::from_ints({batch, 12}, ids);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dims() == b.dims() && std::memcmp(a.raw_data(), b.raw_data(), a.num_bytes()) == 0;
}

// The inputs the threads cycle through: batch sizes 1..40, more shapes than the plan cache keeps.
std::vector<Tensor> inputs() {
  std::vector<Tensor> in;
  for (int64_t b = 1; b <= 40; ++b) in.push_back(tokens(b, b));
  return in;
}

void expect_threads_match_one_thread(const SessionOptions& options) {
  const Session session(Model::load(kModel), options);
  const std::vector<Tensor> in = inputs();
  std::vector<Tensor> expected;
  for (const Tensor& t : in) expected.push_back(session.run({{"tokens", t}})[0]);
  std::atomic<int> mismatches{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kHostThreads; ++t)
    threads.emplace_back([&, t] {
      for (int call = 0; call < kCallsPerThread; ++call) {
        const size_t i = static_cast<size_t>(call * kHostThreads + t) % in.size();
        try {
          if (!same_bits(session.run({{"tokens", in[i]}})[0], expected[i])) ++mismatches;
        } catch (const Error&) {
          ++errors;
        }
      }
    });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(errors.load(), 0);
}

// The executor's own threads kept out: what remains is graphrun's sharing (plans, arenas, parameters).
TEST(Concurrency, EightHostThreadsSerialExecutorMatchOneThread) { expect_threads_match_one_thread({1, 1}); }

TEST(Concurrency, EightHostThreadsDefaultOptionsMatchOneThread) { expect_threads_match_one_thread({}); }

TEST(Concurrency, SetParameterRacesWithRuns) {
  Session session(Model::load(kModel), {1, 1});
  const Tensor w0 = session.parameter("w");
  Tensor w1 = w0.clone();
  for (float& v : w1.values<float>()) v = -v;
  const Tensor x = tokens(4, 1);
  const Tensor out0 = session.run({{"tokens", x}})[0];
  session.set_parameter("w", w1);
  const Tensor out1 = session.run({{"tokens", x}})[0];
  ASSERT_FALSE(same_bits(out0, out1));
  std::atomic<bool> done{false};
  std::atomic<int> other{0};
  std::vector<std::thread> runners;
  for (int t = 0; t < 4; ++t)
    runners.emplace_back([&] {
      while (!done) {
        const Tensor out = session.run({{"tokens", x}})[0];
        if (!same_bits(out, out0) && !same_bits(out, out1)) ++other;
      }
    });
  for (int i = 0; i < 200; ++i) session.set_parameter("w", i % 2 ? w1 : w0);
  done = true;
  for (std::thread& th : runners) th.join();
  EXPECT_EQ(other.load(), 0);
  // parameter(), and a parameter fetched by run(), are copies: writing them changes nothing in the session.
  Tensor copy = session.parameter("w");
  copy.values<float>()[0] += 1;
  EXPECT_NE(session.parameter("w").values<float>()[0], copy.values<float>()[0]);
  Tensor fetched = session.run({{"tokens", x}}, {"w"})[0];
  fetched.values<float>()[0] += 1;
  EXPECT_NE(session.parameter("w").values<float>()[0], fetched.values<float>()[0]);
}

TEST(Concurrency, PlanCacheKeepsTheMostRecentlyUsed) {
  const Model model = Model::load(kModel);
  const detail::ModelData& data = detail::data_of(model);
  const GraphRunner runner(std::shared_ptr<const Graph>(std::make_shared<Graph>(data.graph)), {1, 1});
  const Session session(model, {1, 1});
  std::vector<Tensor> params;
  for (const std::string& name : model.parameter_names()) params.push_back(session.parameter(name));
  const std::vector<ValueId> fetches = data.graph.outputs;
  for (int64_t b = 1; b <= static_cast<int64_t>(kMaxCachedPlans) + 8; ++b) {
    runner.run({tokens(b, 0), Tensor()}, params, fetches);
    EXPECT_LE(runner.cached_plans(), kMaxCachedPlans);
  }
  EXPECT_EQ(runner.cached_plans(), kMaxCachedPlans);
}

TEST(Concurrency, HostOpenMpSettingSurvivesARun) {
  const Session session(Model::load(kModel), {1, 2});
  omp_set_num_threads(3);
  session.run({{"tokens", tokens(64, 0)}});
  EXPECT_EQ(omp_get_max_threads(), 3);
}

TEST(Concurrency, RunsInTheHostsArena) {
  SessionOptions options;
  options.use_caller_arena = true;
  const Session shared(Model::load(kModel), options), own(Model::load(kModel));
  const Tensor x = tokens(8, 2);
  const Tensor expected = own.run({{"tokens", x}})[0];
  tbb::task_arena host_arena(2);
  Tensor got;
  host_arena.execute([&] { got = shared.run({{"tokens", x}})[0]; });
  EXPECT_TRUE(same_bits(got, expected));
}

}  // namespace
}  // namespace graphrun
