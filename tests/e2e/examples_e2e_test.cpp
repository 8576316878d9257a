// The example services end to end: order-service and inventory-service processes, each with its
// own SQLite database, place an order through each protocol, and a refused one (out of stock);
// afterwards the services' own databases and read-only endpoints must agree: every confirmed
// order has its stock taken, every refused order is cancelled with its stock back.
#include "e2e_fixture.h"

namespace txc::testing {
namespace {

class ExamplesE2eTest : public E2eTest, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    inventory_port_ = FreePort();
    order_port_ = FreePort();
    StartNamed(
        "inventory",
        {TXC_INVENTORY_SERVICE_BIN, "--nats-url", nats_.url(), "--db", Path("inventory.db"),
         "--http-addr", "127.0.0.1:" + std::to_string(inventory_port_), "--stock", "widget=10"});
    StartNamed("order", {TXC_ORDER_SERVICE_BIN, "--nats-url", nats_.url(), "--db", Path("order.db"),
                         "--http-addr", "127.0.0.1:" + std::to_string(order_port_)});
    StartCoordinator();
  }

  json Place(const std::string& order_id, int qty) {
    return Post({{"protocol", GetParam()},
                 {"timeout_ms", 5000},
                 {"branches",
                  {Branch("order", {{"order_id", order_id}, {"sku", "widget"}, {"qty", qty}}),
                   Branch("inventory", {{"sku", "widget"}, {"qty", qty}})}}});
  }

  json ServiceGet(int port, const std::string& path) {
    httplib::Client c("127.0.0.1", port);
    auto res = c.Get(path);
    if (!res || res->status != 200) return nullptr;
    return json::parse(res->body, nullptr, false);
  }

  int inventory_port_ = 0;
  int order_port_ = 0;
};

TEST_P(ExamplesE2eTest, AnOrderInStockSucceedsAndOneOutOfStockLeavesNothingBehind) {
  const std::string protocol = GetParam();
  const bool saga = protocol == "saga";
  const json ok = Place("o-1", 3);
  ASSERT_EQ(ok["_status"], 201) << ok.dump();
  EXPECT_EQ(ok["state"], saga ? "completed" : "committed") << ok.dump();

  const json refused = Place("o-2", 50);
  ASSERT_EQ(refused["_status"], 201) << refused.dump();
  EXPECT_EQ(refused["state"], saga ? "compensated" : "aborted") << refused.dump();
  EXPECT_NE(refused["reason"].get<std::string>().find("out of stock"), std::string::npos)
      << refused["reason"];

  // The services' own databases.
  EXPECT_EQ(
      Query("inventory", "SELECT available || '/' || reserved FROM stock WHERE sku = 'widget'"),
      "7/0");
  EXPECT_EQ(Query("order", "SELECT status FROM orders WHERE order_id = 'o-1'"), "confirmed");
  // A refused 2PC/3PC order never got past pending and was cancelled; a refused saga's order
  // was confirmed by its action and cancelled by its compensation.
  EXPECT_EQ(Query("order", "SELECT status FROM orders WHERE order_id = 'o-2'"), "cancelled");
  EXPECT_EQ(Query("order", "SELECT COUNT(*) FROM orders WHERE status = 'pending'"), "0");

  // And what they serve.
  const json stock = ServiceGet(inventory_port_, "/stock");
  ASSERT_TRUE(stock.is_array()) << stock.dump();
  EXPECT_EQ(stock[0]["available"], 7);
  EXPECT_EQ(ServiceGet(order_port_, "/orders/o-1")["status"], "confirmed");
  EXPECT_EQ(ServiceGet(order_port_, "/orders/o-2")["status"], "cancelled");
  EXPECT_TRUE(ServiceGet(order_port_, "/orders/o-404").is_null());
}

INSTANTIATE_TEST_SUITE_P(Protocols, ExamplesE2eTest, ::testing::Values("2pc", "3pc", "saga"));

class ExampleHealthTest : public E2eTest {};

// A service is ready only while requests can reach it: the demo once sent its first order to a
// service that said ok before its NATS connection (and subscription) existed. Health (the process
// is up) does not depend on NATS.
TEST_F(ExampleHealthTest, ReadyOnlyWhileConnectedToNats) {
  nats_.Stop();
  const int port = FreePort();
  StartNamed("inventory",
             {TXC_INVENTORY_SERVICE_BIN, "--nats-url", nats_.url(), "--db", Path("inventory.db"),
              "--http-addr", "127.0.0.1:" + std::to_string(port), "--stock", "widget=10"});
  httplib::Client c("127.0.0.1", port);
  const auto status = [&c](const std::string& path) {
    auto res = c.Get(path);
    return res ? res->status : 0;
  };
  EXPECT_EQ(status("/readyz"), 503);
  EXPECT_EQ(status("/healthz"), 200);
  ASSERT_TRUE(nats_.Start());
  EXPECT_TRUE(WaitFor([&] { return status("/readyz") == 200; }, std::chrono::seconds(20)));
  nats_.Stop();
  EXPECT_TRUE(WaitFor([&] { return status("/readyz") == 503; }, std::chrono::seconds(20)));
  EXPECT_EQ(status("/healthz"), 200);
}

}  // namespace
}  // namespace txc::testing
