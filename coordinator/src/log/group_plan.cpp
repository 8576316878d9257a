#include "log/group_plan.h"

#include <functional>
#include <string_view>
#include <unordered_map>
#include <variant>

namespace txc::log {
namespace {

struct BranchKey {
  std::string_view tx_id;  // points into the group's records, which outlive the plan's use
  int branch;
  bool operator==(const BranchKey&) const = default;
};

struct BranchKeyHash {
  size_t operator()(const BranchKey& k) const {
    return std::hash<std::string_view>{}(k.tx_id) * 31 + static_cast<size_t>(k.branch);
  }
};

}  // namespace

GroupPlan PlanGroup(const std::vector<const core::LogRecord*>& records) {
  GroupPlan plan;
  plan.skip.assign(records.size(), false);
  plan.branch_state.resize(records.size());

  // Where each transaction created in this group is created.
  std::unordered_map<std::string_view, size_t> created;
  for (size_t i = 0; i < records.size(); ++i) {
    if (const auto* c = std::get_if<core::TxCreated>(records[i])) created.try_emplace(c->tx.id, i);
  }

  // Backwards, so the first BranchChanged of a branch met is its last in the group. A change
  // before its row's insert is applied as it is: its UPDATE finds no row and fails the group.
  std::unordered_map<BranchKey, size_t, BranchKeyHash> last;
  for (size_t i = records.size(); i-- > 0;) {
    const auto* change = std::get_if<core::BranchChanged>(records[i]);
    if (change == nullptr) continue;
    if (auto c = created.find(change->id); c != created.end() && i < c->second) continue;
    if (!last.try_emplace(BranchKey{change->id, change->branch}, i).second) plan.skip[i] = true;
  }
  if (last.empty() || created.empty()) return plan;

  for (size_t i = 0; i < records.size(); ++i) {
    const auto* insert = std::get_if<core::TxCreated>(records[i]);
    if (insert == nullptr) continue;
    const core::Transaction& tx = insert->tx;
    for (size_t b = 0; b < tx.branches.size(); ++b) {
      auto it = last.find(BranchKey{tx.id, tx.branches[b].index});
      if (it == last.end() || it->second < i) continue;
      if (plan.branch_state[i].empty()) plan.branch_state[i].resize(tx.branches.size(), nullptr);
      plan.branch_state[i][b] = &std::get<core::BranchChanged>(*records[it->second]);
      plan.skip[it->second] = true;
    }
  }
  return plan;
}

}  // namespace txc::log
