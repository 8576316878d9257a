#include "engine/watcher_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace txc::engine {
namespace {

// A watcher that records its name in `*called` when answered.
WatcherList::Watcher Named(std::string name, std::vector<std::string>* called) {
  return [name = std::move(name), called](std::optional<core::Transaction>) {
    called->push_back(name);
  };
}

TEST(WatcherList, TakesTheWatchersStillWantedInTheOrderTheyCame) {
  WatcherList list;
  std::vector<std::string> called;
  auto alive = std::make_shared<int>(1);
  auto gone = std::make_shared<int>(2);
  list.Add(Named("always", &called));
  list.Add(Named("alive", &called), alive);
  list.Add(Named("gone", &called), gone);
  list.Add(Named("always too", &called));
  gone.reset();
  for (auto& w : list.Take()) w(std::nullopt);
  EXPECT_EQ(called, (std::vector<std::string>{"always", "alive", "always too"}));
  EXPECT_EQ(list.size(), 0u);
  EXPECT_TRUE(list.Take().empty());
}

// Waits on a long transaction again and again, most running out: the list keeps about twice
// what is still wanted, not one watcher per wait.
TEST(WatcherList, WatchersNoLongerWantedDoNotPileUp) {
  WatcherList list;
  std::vector<std::string> called;
  std::vector<std::shared_ptr<int>> wanted;
  for (int i = 0; i < 10'000; ++i) {
    if (i % 100 == 0) {
      wanted.push_back(std::make_shared<int>(i));
      list.Add(Named("wanted " + std::to_string(i), &called), wanted.back());
    } else {
      auto wait = std::make_shared<int>(i);
      list.Add(Named("ran out " + std::to_string(i), &called), wait);
    }  // that wait was answered: nobody holds it any more
    ASSERT_LE(list.size(), std::max<size_t>(16, 2 * wanted.size()) + 1)
        << "watchers no longer wanted are kept, after " << i + 1;
  }
  for (auto& w : list.Take()) w(std::nullopt);
  ASSERT_EQ(called.size(), wanted.size());
  for (size_t i = 0; i < wanted.size(); ++i) {
    EXPECT_EQ(called[i], "wanted " + std::to_string(i * 100));
  }
}

}  // namespace
}  // namespace txc::engine
