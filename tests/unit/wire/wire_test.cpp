#include "txc/wire.h"

#include <gtest/gtest.h>

namespace txc::wire {
namespace {

TEST(Wire, BranchRequestRoundTrips) {
  BranchRequest r{"g1", 2, "inventory", "2pc", Op::kCommit, 3, {{"sku", "a"}}, {"a", "b"}};
  auto back = DecodeBranchRequest(Encode(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->gid, "g1");
  EXPECT_EQ(back->branch, 2);
  EXPECT_EQ(back->participant, "inventory");
  EXPECT_EQ(back->op, Op::kCommit);
  EXPECT_EQ(back->attempt, 3);
  EXPECT_EQ(back->payload["sku"], "a");
  EXPECT_EQ(back->participants, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(back->traceparent, "");
  EXPECT_EQ(Encode(r).find("traceparent"), std::string::npos) << "absent when there is none";
}

TEST(Wire, BranchRequestCarriesItsTraceparent) {
  BranchRequest r{"g1", 0, "inventory", "saga", Op::kAction, 1, {}, {}, "00-ab-cd-01"};
  auto back = DecodeBranchRequest(Encode(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->traceparent, "00-ab-cd-01");
  EXPECT_FALSE(DecodeBranchRequest(
                   R"({"gid":"g","branch":0,"participant":"p","protocol":"2pc","op":"prepare",)"
                   R"("traceparent":7})")
                   .ok());
}

TEST(Wire, ReplyRoundTripsAndNamesBadFields) {
  BranchReply r{"g1", 0, Op::kPrepare, Outcome::kRefused, "out of stock"};
  auto back = DecodeBranchReply(Encode(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->outcome, Outcome::kRefused);
  EXPECT_EQ(back->message, "out of stock");

  EXPECT_FALSE(DecodeBranchReply("not json").ok());
  EXPECT_FALSE(DecodeBranchReply("[]").ok());
  auto bad = DecodeBranchReply(R"({"gid":"g","branch":0,"op":"prepare","outcome":"maybe"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("outcome"), std::string::npos);
  EXPECT_FALSE(DecodeBranchReply(R"({"gid":"g","branch":-1,"op":"prepare","outcome":"ok"})").ok());
}

// Decoding a document recurses once per level: a forged message nested 100,000 deep (200 KB)
// would overflow the decoder's stack. Up to 128 levels are accepted, brackets in strings ignored.
TEST(Wire, MessagesNestedTooDeeplyAreRefusedBeforeParsing) {
  auto nested = [](int depth) {
    BranchRequest r{"g1", 0, "inventory", "2pc", Op::kPrepare, 1, nullptr, {}};
    for (int i = 1; i < depth; ++i) r.payload = nlohmann::json::array({r.payload});
    r.payload = nlohmann::json::array({r.payload, "[[[[{{{{"});
    return Encode(r);
  };
  EXPECT_TRUE(DecodeBranchRequest(nested(126)).ok());  // + the message object = 127 levels
  auto deep = DecodeBranchRequest(nested(200));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().ToString().find("nested deeper than 128"), std::string::npos)
      << deep.status().ToString();
  const std::string bomb = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(DecodeBranchReply(bomb).ok());
}

TEST(Wire, StatusMessagesRoundTrip) {
  auto q = DecodeStatusQuery(Encode(StatusQuery{"g9"}));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->gid, "g9");
  auto r = DecodeStatusReply(Encode(StatusReply{"g9", Decision::kCommit}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision, Decision::kCommit);
  EXPECT_FALSE(DecodeStatusQuery(R"({"gid":""})").ok());
}

TEST(Wire, ParticipantNamesCannotAddressOtherSubjects) {
  EXPECT_TRUE(IsValidParticipantName("inventory-service_2"));
  for (const char* bad : {"", "a.b", "a*", ">", "a b", "a\tb", "a\nb", "ä"}) {
    EXPECT_FALSE(IsValidParticipantName(bad)) << bad;
  }
  EXPECT_FALSE(IsValidParticipantName(std::string(65, 'a')));
  EXPECT_EQ(ParticipantSubject("inv", Op::kPrepare), "txc.participant.inv.prepare");
  EXPECT_EQ(ParticipantWildcardSubject("inv"), "txc.participant.inv.*");
}

}  // namespace
}  // namespace txc::wire

namespace txc::wire {
namespace {

TEST(Wire, PeerStateMessagesRoundTrip) {
  EXPECT_EQ(PeerStateSubject("inv"), "txc.participant.inv.state");
  auto q = DecodePeerStateQuery(Encode(PeerStateQuery{"g1", "order"}));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->from, "order");
  PeerStateReply r{"g1", "inv", {{0, PeerState::kUncertain}, {3, PeerState::kPreCommitted}}};
  auto back = DecodePeerStateReply(Encode(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->branches.size(), 2u);
  EXPECT_EQ(back->branches[1].branch, 3);
  EXPECT_EQ(back->branches[1].state, PeerState::kPreCommitted);
  EXPECT_FALSE(DecodePeerStateReply(
                   R"({"gid":"g","participant":"p","branches":[{"branch":0,"state":"maybe"}]})")
                   .ok());
  EXPECT_FALSE(DecodePeerStateReply(R"({"gid":"g","participant":"p"})").ok());
}

TEST(Wire, HeartbeatsRoundTripWithAndWithoutLeaving) {
  EXPECT_EQ(HeartbeatSubject("inv"), "txc.heartbeat.inv");
  EXPECT_EQ(kHeartbeatWildcardSubject, "txc.heartbeat.*");
  const Heartbeat h{"inv", "inv-00ff12ab", 250, false};
  const std::string text = Encode(h);
  EXPECT_EQ(text.find("leaving"), std::string::npos) << "absent unless true";
  auto back = DecodeHeartbeat(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->participant, "inv");
  EXPECT_EQ(back->instance, "inv-00ff12ab");
  EXPECT_EQ(back->interval_ms, 250);
  EXPECT_FALSE(back->leaving);

  auto leaving = DecodeHeartbeat(Encode(Heartbeat{"inv", "inv-00ff12ab", 1000, true}));
  ASSERT_TRUE(leaving.ok());
  EXPECT_TRUE(leaving->leaving);
  // Written by hand, as another language would: unknown fields are ignored.
  auto other = DecodeHeartbeat(
      R"({"v":1,"participant":"inv","instance":"py.inv-1","interval_ms":1000,"leaving":false,)"
      R"("host":"box-1"})");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(other->instance, "py.inv-1");
}

TEST(Wire, MalformedHeartbeatsAreRefusedNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "JSON"},
      {"[]", "object"},
      {R"({"instance":"i","interval_ms":1000})", "participant"},
      {R"({"participant":"inv","interval_ms":1000})", "instance"},
      {R"({"participant":"inv","instance":"i"})", "interval_ms"},
      {R"({"participant":7,"instance":"i","interval_ms":1000})", "participant"},
      {R"({"participant":"a.b","instance":"i","interval_ms":1000})", "participant"},
      {R"({"participant":"inv","instance":"","interval_ms":1000})", "instance"},
      {R"({"participant":"inv","instance":"has space","interval_ms":1000})", "instance"},
      {R"({"participant":"inv","instance":")" + std::string(129, 'x') + R"(","interval_ms":1})",
       "instance"},
      {R"({"participant":"inv","instance":"i","interval_ms":0})", "interval_ms"},
      {R"({"participant":"inv","instance":"i","interval_ms":3600001})", "interval_ms"},
      {R"({"participant":"inv","instance":"i","interval_ms":"1000"})", "interval_ms"},
      {R"({"participant":"inv","instance":"i","interval_ms":1.5})", "interval_ms"},
      {R"({"participant":"inv","instance":"i","interval_ms":1000,"leaving":"yes"})", "leaving"},
  };
  for (const auto& [text, field] : cases) {
    auto decoded = DecodeHeartbeat(text);
    ASSERT_FALSE(decoded.ok()) << text;
    EXPECT_NE(decoded.status().message().find(field), std::string::npos)
        << text << ": " << decoded.status().message();
  }
}

}  // namespace
}  // namespace txc::wire
