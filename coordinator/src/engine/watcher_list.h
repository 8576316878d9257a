// WatcherList: the watchers of one live transaction, each answered at most once.
//
// A watcher may be wanted only while some object lives (a client's wait): a wait that runs out is
// answered without the transaction's end, yet the transaction may run on for hours (a participant
// down, its commit retried), and a client that starts it again and again under its
// Idempotency-Key with a wait would otherwise leave one watcher per try until it ends. Those no
// longer wanted are swept out when an Add finds the list twice as long as after the last sweep
// (16 at least): a client that keeps waiting again keeps it at about twice the waits still open,
// for a constant amortised cost per Add.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/transaction.h"

namespace txc::engine {

class WatcherList {
 public:
  using Watcher = std::function<void(std::optional<core::Transaction>)>;

  // `wanted_while`: the watcher is wanted while that object lives (only a weak reference is
  // kept); null: until it is taken.
  void Add(Watcher watcher, const std::shared_ptr<const void>& wanted_while = nullptr);
  // Empties the list, returning the watchers still wanted, in the order they were added.
  std::vector<Watcher> Take();
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Watcher watcher;
    std::optional<std::weak_ptr<const void>> wanted_while;  // nullopt: always wanted
    bool Wanted() const { return !wanted_while || !wanted_while->expired(); }
  };
  static constexpr size_t kFirstSweep = 16;

  std::vector<Entry> entries_;
  size_t sweep_at_ = kFirstSweep;
};

}  // namespace txc::engine
