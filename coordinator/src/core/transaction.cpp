#include "core/transaction.h"

#include <array>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <utility>

#include "core/actions.h"

namespace txc::core {
namespace {

template <typename E, size_t N>
const char* NameOf(const std::array<std::pair<E, const char*>, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> ValueOf(const std::array<std::pair<E, const char*>, N>& table,
                         std::string_view name) {
  for (const auto& [v, n] : table) {
    if (name == n) return v;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<Protocol, const char*>, 3> kProtocols = {
    {{Protocol::kTwoPhase, "2pc"}, {Protocol::kThreePhase, "3pc"}, {Protocol::kSaga, "saga"}}};

constexpr std::array<std::pair<TxState, const char*>, 10> kTxStates = {{
    {TxState::kPreparing, "preparing"},
    {TxState::kPreCommitting, "precommitting"},
    {TxState::kCommitting, "committing"},
    {TxState::kAborting, "aborting"},
    {TxState::kCommitted, "committed"},
    {TxState::kAborted, "aborted"},
    {TxState::kRunning, "running"},
    {TxState::kCompensating, "compensating"},
    {TxState::kCompleted, "completed"},
    {TxState::kCompensated, "compensated"},
}};

constexpr std::array<std::pair<BranchState, const char*>, 16> kBranchStates = {{
    {BranchState::kPreparing, "preparing"},
    {BranchState::kPrepared, "prepared"},
    {BranchState::kRefused, "refused"},
    {BranchState::kCommitting, "committing"},
    {BranchState::kCommitted, "committed"},
    {BranchState::kAborting, "aborting"},
    {BranchState::kAborted, "aborted"},
    {BranchState::kPreCommitting, "precommitting"},
    {BranchState::kPreCommitted, "precommitted"},
    {BranchState::kWaiting, "waiting"},
    {BranchState::kActing, "acting"},
    {BranchState::kDone, "done"},
    {BranchState::kFailed, "failed"},
    {BranchState::kCompensating, "compensating"},
    {BranchState::kCompensated, "compensated"},
    {BranchState::kSkipped, "skipped"},
}};

constexpr std::array<std::pair<AttemptResult, const char*>, 5> kAttemptResults = {{
    {AttemptResult::kOk, "ok"},
    {AttemptResult::kRefused, "refused"},
    {AttemptResult::kError, "error"},
    {AttemptResult::kNoResponders, "no_responders"},
    {AttemptResult::kTimeout, "timeout"},
}};

constexpr std::array<std::pair<TxEventKind, const char*>, 5> kTxEventKinds = {{
    {TxEventKind::kState, "state"},
    {TxEventKind::kNeedsAttention, "needs_attention"},
    {TxEventKind::kAttentionCleared, "attention_cleared"},
    {TxEventKind::kOperatorAbort, "operator_abort"},
    {TxEventKind::kOperatorRetry, "operator_retry"},
}};

constexpr std::array<std::pair<TimerKind, const char*>, 3> kTimerKinds = {{
    {TimerKind::kDeadline, "deadline"},
    {TimerKind::kReplyTimeout, "reply_timeout"},
    {TimerKind::kRetry, "retry"},
}};

}  // namespace

std::string ToIso8601(TimePoint t) {
  namespace chrono = std::chrono;
  constexpr chrono::sys_days kYear0 = chrono::year{0} / 1 / 1;
  constexpr chrono::sys_days kYear10000 = chrono::year{10000} / 1 / 1;
  const auto day = chrono::floor<chrono::days>(t);
  const int64_t ms = (t - day).count();  // [0, 24h) in milliseconds
  char buf[64];
  if (day < kYear0 || day >= kYear10000) {
    // Out of four digits (and beyond what chrono::year holds): the C library's calendar.
    const std::time_t secs = static_cast<std::time_t>(
        chrono::duration_cast<chrono::seconds>(day.time_since_epoch()).count() + ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
  }
  // Every API answer formats several of these: civil-calendar arithmetic instead of gmtime_r
  // (which takes glibc's time-zone lock, shared by all HTTP threads) and snprintf.
  const chrono::year_month_day ymd{day};
  const int fields[] = {static_cast<int>(static_cast<unsigned>(ymd.month())),
                        static_cast<int>(static_cast<unsigned>(ymd.day())),
                        static_cast<int>(ms / 3'600'000), static_cast<int>(ms / 60'000 % 60),
                        static_cast<int>(ms / 1000 % 60)};
  char* p = buf;
  auto digits = [&p](int v, int n) {
    for (int i = n - 1; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
    p += n;
  };
  digits(static_cast<int>(ymd.year()), 4);
  *p++ = '-';
  const char separators[] = {'-', 'T', ':', ':', '.'};  // after month, day, hour, minute, second
  for (int i = 0; i < 5; ++i) {
    digits(fields[i], 2);
    *p++ = separators[i];
  }
  digits(static_cast<int>(ms % 1000), 3);
  *p++ = 'Z';
  return std::string(buf, p);
}

int64_t ToMillis(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint FromMillis(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

const char* ProtocolName(Protocol p) { return NameOf(kProtocols, p); }
std::optional<Protocol> ParseProtocol(std::string_view n) { return ValueOf(kProtocols, n); }
const char* TxStateName(TxState s) { return NameOf(kTxStates, s); }
std::optional<TxState> ParseTxState(std::string_view n) { return ValueOf(kTxStates, n); }
bool IsTerminal(TxState s) {
  return s == TxState::kCommitted || s == TxState::kAborted || s == TxState::kCompleted ||
         s == TxState::kCompensated;
}
bool IsAbortOutcome(TxState s) {
  return s == TxState::kAborting || s == TxState::kAborted || s == TxState::kCompensating ||
         s == TxState::kCompensated;
}
bool IsDecided(TxState s) {
  return IsTerminal(s) || s == TxState::kCommitting || s == TxState::kAborting ||
         s == TxState::kCompensating;
}
const char* BranchStateName(BranchState s) { return NameOf(kBranchStates, s); }
std::optional<BranchState> ParseBranchState(std::string_view n) {
  return ValueOf(kBranchStates, n);
}
const char* AttemptResultName(AttemptResult r) { return NameOf(kAttemptResults, r); }
std::optional<AttemptResult> ParseAttemptResult(std::string_view n) {
  return ValueOf(kAttemptResults, n);
}
const char* TxEventKindName(TxEventKind k) { return NameOf(kTxEventKinds, k); }
std::optional<TxEventKind> ParseTxEventKind(std::string_view n) {
  return ValueOf(kTxEventKinds, n);
}
const char* TimerKindName(TimerKind k) { return NameOf(kTimerKinds, k); }

TxEvent EventOf(const TxStateChanged& r) {
  return TxEvent{r.at, TxEventKind::kState, r.state, -1, r.reason};
}
TxEvent EventOf(const AttentionChanged& r) {
  return TxEvent{
      r.at,
      r.branch_needs_attention ? TxEventKind::kNeedsAttention : TxEventKind::kAttentionCleared,
      std::nullopt, r.branch, ""};
}
TxEvent EventOf(const OperatorActed& r) {
  return TxEvent{r.at, r.action, std::nullopt, -1, r.reason};
}

void Actions::Append(Actions more) {
  auto move_into = [](auto& to, auto& from) {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  };
  move_into(persist, more.persist);
  move_into(lazy, more.lazy);
  move_into(sends, more.sends);
  move_into(timers, more.timers);
  terminal = terminal || more.terminal;
  if (rejected.empty()) rejected = std::move(more.rejected);
}

}  // namespace txc::core
