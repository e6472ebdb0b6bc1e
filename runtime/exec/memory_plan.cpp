#include "runtime/exec/memory_plan.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "graph/alignment.h"

namespace graphrun {
namespace {

// ancestors[s] as a bitset: every step that must finish before s starts.
class AncestorSets {
 public:
  explicit AncestorSets(const std::vector<std::vector<int>>& predecessors)
      : words_((predecessors.size() + 63) / 64), bits_(predecessors.size() * words_, 0) {
    for (size_t s = 0; s < predecessors.size(); ++s) {
      for (int p : predecessors[s]) {
        uint64_t* mine = row(s);
        const uint64_t* theirs = row(static_cast<size_t>(p));
        for (size_t w = 0; w < words_; ++w) mine[w] |= theirs[w];
        mine[static_cast<size_t>(p) / 64] |= uint64_t{1} << (static_cast<size_t>(p) % 64);
      }
    }
  }
  bool is_ancestor(int a, int s) const {
    return (row(static_cast<size_t>(s))[static_cast<size_t>(a) / 64] >> (static_cast<size_t>(a) % 64)) & 1;
  }

 private:
  uint64_t* row(size_t s) { return bits_.data() + s * words_; }
  const uint64_t* row(size_t s) const { return bits_.data() + s * words_; }
  size_t words_;
  std::vector<uint64_t> bits_;
};

struct Buffer {
  size_t bytes = 0;
  std::vector<int> last_users;  // steps touching the current occupant
};

}  // namespace

MemoryPlan plan_memory(const std::vector<std::vector<int>>& predecessors, const std::vector<MemoryRequest>& requests) {
  const AncestorSets ancestors(predecessors);
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return requests[a].birth_step < requests[b].birth_step; });

  std::vector<Buffer> buffers;
  std::vector<size_t> buffer_of(requests.size());
  for (size_t r : order) {
    const MemoryRequest& req = requests[r];
    const size_t bytes = align_up(std::max<size_t>(req.bytes, 1));
    auto is_free = [&](const Buffer& b) {
      return std::all_of(b.last_users.begin(), b.last_users.end(),
                         [&](int user) { return ancestors.is_ancestor(user, req.birth_step); });
    };
    // Best fit among free buffers; else grow the largest free one; else a new buffer.
    int best = -1, largest = -1;
    for (size_t i = 0; i < buffers.size(); ++i) {
      if (!is_free(buffers[i])) continue;
      if (buffers[i].bytes >= bytes && (best < 0 || buffers[i].bytes < buffers[static_cast<size_t>(best)].bytes))
        best = static_cast<int>(i);
      if (largest < 0 || buffers[i].bytes > buffers[static_cast<size_t>(largest)].bytes) largest = static_cast<int>(i);
    }
    int chosen = best >= 0 ? best : largest;
    if (chosen < 0) {
      buffers.push_back({});
      chosen = static_cast<int>(buffers.size() - 1);
    }
    Buffer& b = buffers[static_cast<size_t>(chosen)];
    b.bytes = std::max(b.bytes, bytes);
    b.last_users = req.reader_steps;
    b.last_users.push_back(req.birth_step);
    buffer_of[r] = static_cast<size_t>(chosen);
  }

  MemoryPlan plan;
  std::vector<size_t> buffer_offset(buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i) {
    buffer_offset[i] = plan.arena_bytes;
    plan.arena_bytes += buffers[i].bytes;
  }
  plan.offsets.resize(requests.size());
  for (size_t r = 0; r < requests.size(); ++r) plan.offsets[r] = buffer_offset[buffer_of[r]];
  return plan;
}

}  // namespace graphrun
