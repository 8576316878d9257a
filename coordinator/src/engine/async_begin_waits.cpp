#include "engine/async_begin_waits.h"

#include <string>
#include <utility>
#include <vector>

namespace txc::engine {

class AsyncBeginWaits::Wait {
 public:
  Wait(Done d, bool want, Clock::time_point begun_deadline, Clock::time_point ended_deadline)
      : done(std::move(d)), want_end(want), begun_by(begun_deadline), ended_by(ended_deadline) {}

  Done done;
  const bool want_end;
  const Clock::time_point begun_by;
  const Clock::time_point ended_by;
  // Guarded by the set's mu_. `begun` is written once, before a lookup is queued, and only read
  // after that.
  std::optional<Result<BeginOutcome>> begun;
  bool ended = false;
  std::optional<core::Transaction> end;
  bool answered = false;
  bool looking_up = false;
  std::optional<Deadlines::iterator> deadline;
};

AsyncBeginWaits::AsyncBeginWaits(Lookup lookup, std::function<void()> after_answers,
                                 size_t max_open)
    : lookup_(std::move(lookup)), after_answers_(std::move(after_answers)), max_open_(max_open) {
  thread_ = std::thread(&AsyncBeginWaits::Run, this);
}

AsyncBeginWaits::~AsyncBeginWaits() { Stop(); }

std::shared_ptr<AsyncBeginWaits::Wait> AsyncBeginWaits::Add(Done done, bool want_end,
                                                            Clock::time_point begun_by,
                                                            Clock::time_point ended_by) {
  auto w = std::make_shared<Wait>(std::move(done), want_end, begun_by, ended_by);
  std::optional<Answer> answer;
  {
    std::lock_guard lock(mu_);
    if (open_.size() >= max_open_) {
      w->answered = true;
      answer = Answer{w, Status::Unavailable("too many clients are waiting (" +
                                             std::to_string(max_open_) + "); retry later")};
    } else {
      open_.emplace(w.get(), w);
      ++unstarted_;
      answer = Settle(w, Clock::now());
    }
  }
  if (answer) {
    Give(std::move(answer));
    return nullptr;
  }
  return w;
}

void AsyncBeginWaits::Begun(const std::shared_ptr<Wait>& w, Result<BeginOutcome> outcome) {
  std::optional<Answer> answer;
  {
    std::lock_guard lock(mu_);
    if (w->answered || w->begun) return;
    w->begun = std::move(outcome);
    if (--unstarted_ == 0) started_cv_.notify_all();
    answer = Settle(w, Clock::now());
  }
  Give(std::move(answer));
}

void AsyncBeginWaits::Ended(const std::shared_ptr<Wait>& w, std::optional<core::Transaction> tx) {
  std::optional<Answer> answer;
  {
    std::lock_guard lock(mu_);
    if (w->answered || w->ended) return;
    w->ended = true;
    w->end = std::move(tx);
    answer = Settle(w, Clock::now());
  }
  Give(std::move(answer));
}

Engine::Watcher AsyncBeginWaits::EndWatcher(const std::shared_ptr<Wait>& w,
                                            std::function<void()> after_end) {
  return [this, weak = std::weak_ptr(w),
          after_end = std::move(after_end)](std::optional<core::Transaction> tx) {
    if (auto wait = weak.lock()) {
      Ended(wait, std::move(tx));
      after_end();
    }
  };
}

void AsyncBeginWaits::StopAll() {
  std::lock_guard lock(mu_);
  stopping_all_ = true;
  cv_.notify_one();
}

void AsyncBeginWaits::AwaitStarts(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  started_cv_.wait_until(lock, deadline, [this] { return unstarted_ == 0; });
}

void AsyncBeginWaits::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_all_ = true;
    stopped_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

size_t AsyncBeginWaits::open() const {
  std::lock_guard lock(mu_);
  return open_.size();
}

std::optional<AsyncBeginWaits::Answer> AsyncBeginWaits::Settle(const std::shared_ptr<Wait>& w,
                                                               Clock::time_point now) {
  if (w->answered || w->looking_up) return std::nullopt;
  auto arm = [&](Clock::time_point at) {
    if (w->deadline && (*w->deadline)->first == at) return;
    Disarm(*w);
    w->deadline = deadlines_.emplace(at, w);
    // Only a thread asleep past `at` needs waking; an awake one looks before it sleeps again.
    // (Deadlines mostly come later than those armed before: one wake-up, not one per request.)
    if (at < sleeping_until_) cv_.notify_one();
  };
  if (!w->begun) {
    if (stopped_) {
      return Finish(w, Status::Unavailable("the coordinator stopped while logging the "
                                           "transaction, which may or may not have started: "
                                           "retry with the same Idempotency-Key"));
    }
    if (now >= w->begun_by) {
      return Finish(w, Status::Unavailable("the coordinator did not log the transaction in time"));
    }
    arm(w->begun_by);
    return std::nullopt;
  }
  const Result<BeginOutcome>& begun = *w->begun;
  if (!begun.ok()) return Finish(w, begun.status());
  if (!w->want_end) return Finish(w, api::BeginResult{begun->tx, begun->created});
  if (w->ended && w->end) return Finish(w, api::BeginResult{*w->end, begun->created});
  if (w->ended || stopping_all_ || now >= w->ended_by) {
    // Not driven by the engine (any more), or no longer waited for: the log has it.
    Disarm(*w);
    w->looking_up = true;
    lookups_.push_back(w);
    cv_.notify_one();
    return std::nullopt;
  }
  arm(w->ended_by);
  return std::nullopt;
}

void AsyncBeginWaits::Disarm(Wait& w) {
  if (!w.deadline) return;
  deadlines_.erase(*w.deadline);
  w.deadline.reset();
}

std::optional<AsyncBeginWaits::Answer> AsyncBeginWaits::Finish(const std::shared_ptr<Wait>& w,
                                                               Result<api::BeginResult> result) {
  w->answered = true;
  Disarm(*w);
  open_.erase(w.get());
  if (!w->begun && --unstarted_ == 0) started_cv_.notify_all();
  return Answer{w, std::move(result)};
}

void AsyncBeginWaits::Give(std::optional<Answer> answer) {
  if (!answer) return;
  Done done = std::move(answer->wait->done);
  done(std::move(answer->result));
}

void AsyncBeginWaits::Run() {
  std::unique_lock lock(mu_);
  bool swept = false;  // every open wait was settled once since stopping_all_ was set
  while (true) {
    const Clock::time_point now = Clock::now();
    std::vector<Answer> answers;
    auto settle = [&](const std::shared_ptr<Wait>& w) {
      if (auto a = Settle(w, now)) answers.push_back(std::move(*a));
    };
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      std::shared_ptr<Wait> w = deadlines_.begin()->second;
      Disarm(*w);
      settle(w);
    }
    if (stopping_all_ && (!swept || stopped_)) {
      swept = true;
      std::vector<std::shared_ptr<Wait>> all;
      for (const auto& [key, w] : open_) all.push_back(w);
      for (const auto& w : all) settle(w);
    }
    std::deque<std::shared_ptr<Wait>> lookups = std::exchange(lookups_, {});
    if (answers.empty() && lookups.empty()) {
      if (stopped_ && open_.empty()) return;
      if (deadlines_.empty()) {
        sleeping_until_ = Clock::time_point::max();
        cv_.wait(lock);
      } else {
        sleeping_until_ = deadlines_.begin()->first;
        cv_.wait_until(lock, sleeping_until_);
      }
      sleeping_until_ = Clock::time_point::min();
      continue;
    }
    lock.unlock();
    // Each round of answers is flushed before anything that may block (a lookup): an answer
    // buffered meanwhile would wait, and so would everything published after it.
    for (auto& a : answers) Give(std::move(a));
    if (!answers.empty() && after_answers_) after_answers_();
    if (!lookups.empty()) {
      // Still running when the wait ran out, or finished before (a replay): the log has it. One
      // read for the whole round, so that a slow log costs one wait, not one per client.
      std::vector<std::string> ids;
      for (const auto& w : lookups) ids.push_back((**w->begun).tx.id);
      std::vector<Result<core::Transaction>> now = lookup_(ids);
      std::vector<Answer> looked_up;
      {
        std::lock_guard relock(mu_);
        for (size_t i = 0; i < lookups.size(); ++i) {
          const BeginOutcome& begun = **lookups[i]->begun;
          api::BeginResult result{begun.tx, begun.created};
          if (i < now.size() && now[i].ok()) result.tx = std::move(*now[i]);
          looked_up.push_back(*Finish(lookups[i], std::move(result)));
        }
      }
      for (auto& a : looked_up) Give(std::move(a));
      if (after_answers_) after_answers_();
    }
    lock.lock();
  }
}

}  // namespace txc::engine
