#include "engine/watcher_list.h"

#include <algorithm>
#include <utility>

namespace txc::engine {

void WatcherList::Add(Watcher watcher, const std::shared_ptr<const void>& wanted_while) {
  if (entries_.size() >= sweep_at_) {
    std::erase_if(entries_, [](const Entry& e) { return !e.Wanted(); });
    sweep_at_ = std::max(kFirstSweep, 2 * entries_.size());
  }
  Entry entry{std::move(watcher), std::nullopt};
  if (wanted_while) entry.wanted_while = wanted_while;
  entries_.push_back(std::move(entry));
}

std::vector<WatcherList::Watcher> WatcherList::Take() {
  std::vector<Watcher> wanted;
  wanted.reserve(entries_.size());
  for (Entry& e : entries_) {
    if (e.Wanted()) wanted.push_back(std::move(e.watcher));
  }
  entries_.clear();
  sweep_at_ = kFirstSweep;
  return wanted;
}

}  // namespace txc::engine
