// Shared by the HttpApi tests: a scripted TransactionService and a fixture serving it on a free
// port with a real HTTP client.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "api/http_api.h"

namespace txc::api::http_test {

using nlohmann::json;

// A TransactionService that records what the HTTP layer asked and answers as scripted.
class FakeService : public TransactionService {
 public:
  Result<BeginResult> Begin(const BeginCommand& command) override {
    std::lock_guard<std::mutex> lock(mu);
    last_begin = command;
    if (throw_on_begin) throw std::runtime_error("boom");
    if (!begin_error.ok()) return begin_error;
    core::Transaction tx;
    tx.id = "tx1";
    tx.protocol = command.protocol;
    for (size_t i = 0; i < command.branches.size(); ++i) {
      core::Branch b;
      b.index = static_cast<int>(i);
      b.participant = command.branches[i].participant;
      tx.branches.push_back(b);
    }
    const bool created = !command.idempotency_key.empty() ? keys_seen++ == 0 : true;
    if (command.wait) {
      awaited = tx.id;
      waited_for = *command.wait;
      tx.state = core::TxState::kCommitted;
    }
    return BeginResult{tx, created};
  }
  // Answers on the caller's thread, as the real service may for an answer known at once.
  void BeginAsync(const BeginCommand& command, BeginDone done) override {
    begin_async_calls++;
    done(Begin(command));
  }
  Result<core::Transaction> Get(const std::string& id) override {
    if (id != "tx1") return Status::NotFound("no transaction with id '" + id + "'");
    core::Transaction tx;
    tx.id = id;
    core::Branch b;
    b.participant = "inv";
    b.history.push_back(core::Attempt{wire::Op::kPrepare, 1, core::FromMillis(1000),
                                      core::AttemptResult::kRefused, "out of stock", 42});
    tx.branches.push_back(b);
    return tx;
  }
  Result<log::TxPage> List(const log::TxFilter& filter) override {
    last_filter = filter;
    log::TxPage page;
    core::Transaction tx;
    tx.id = "tx1";
    page.items.push_back(tx);
    page.next_cursor = "c1";
    return page;
  }
  Result<core::Transaction> Abort(const std::string& id, const std::string& reason) override {
    last_abort = {id, reason};
    if (!operate_error.ok()) return operate_error;
    core::Transaction tx;
    tx.id = id;
    tx.state = core::TxState::kAborting;
    tx.reason = "aborted by operator: " + reason;
    return tx;
  }
  Result<core::Transaction> Retry(const std::string& id) override {
    last_retry = id;
    if (!operate_error.ok()) return operate_error;
    core::Transaction tx;
    tx.id = id;
    tx.state = core::TxState::kCommitting;
    tx.needs_attention = true;
    return tx;
  }
  Status Ready() override { return ready; }

  std::mutex mu;
  std::pair<std::string, std::string> last_abort;
  std::string last_retry;
  Status operate_error;
  BeginCommand last_begin;
  Status begin_error;
  bool throw_on_begin = false;
  int keys_seen = 0;
  int begin_async_calls = 0;
  std::string awaited;
  core::Duration waited_for{0};
  log::TxFilter last_filter;
  Status ready;
};

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpApi::Options o;
    o.port = 0;
    o.max_body_bytes = 4096;
    api_ = std::make_unique<HttpApi>(service_, o);
    ASSERT_TRUE(api_->Start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", api_->port());
  }

  httplib::Result Post(const std::string& path, const std::string& body,
                       httplib::Headers headers = {}) {
    return client_->Post(path.c_str(), headers, body, "application/json");
  }

  static json Body(const httplib::Result& r) { return json::parse(r->body); }

  FakeService service_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<httplib::Client> client_;
};

constexpr const char* kGood = R"({"protocol":"2pc","branches":[{"participant":"inv"}]})";

}  // namespace txc::api::http_test
