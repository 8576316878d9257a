#include "transport/reply_subject.h"

#include <gtest/gtest.h>

namespace txc::transport {
namespace {

constexpr std::string_view kInbox = "_INBOX.abc123";

wire::BranchRequest Request(std::string gid, int branch, wire::Op op, int attempt) {
  wire::BranchRequest r;
  r.gid = std::move(gid);
  r.participant = "inventory";
  r.branch = branch;
  r.op = op;
  r.attempt = attempt;
  return r;
}

TEST(ReplySubject, CarriesEverythingNeededToRouteAndTimeTheReply) {
  const std::string subject =
      ReplySubject(kInbox, Request("01a2-tx_9", 3, wire::Op::kCommit, 7), 123456789);
  EXPECT_EQ(subject, "_INBOX.abc123.01a2-tx_9.3.commit.7.123456789");
  InboundReply reply;
  int64_t sent_us = 0;
  ASSERT_TRUE(ParseReplySubject(subject, kInbox, &reply, &sent_us));
  EXPECT_EQ(reply.gid, "01a2-tx_9");
  EXPECT_EQ(reply.branch, 3);
  EXPECT_EQ(reply.op, wire::Op::kCommit);
  EXPECT_EQ(reply.attempt, 7);
  EXPECT_EQ(sent_us, 123456789);
}

TEST(ReplySubject, RefusesSubjectsItDidNotMake) {
  for (const char* bad : {
           "_INBOX.other.g.1.commit.1.5",             // another inbox
           "_INBOX.abc1234.g.1.commit.1.5",           // an inbox that only starts like ours
           "_INBOX.abc123",                           // nothing after it
           "_INBOX.abc123.",                          // empty rest
           "_INBOX.abc123.g.1.commit.1",              // a token short
           "_INBOX.abc123.g.1.commit.1.5.6",          // a token long
           "_INBOX.abc123..1.commit.1.5",             // empty gid
           "_INBOX.abc123.g.1.launch.1.5",            // unknown op
           "_INBOX.abc123.g.-1.commit.1.5",           // negative branch
           "_INBOX.abc123.g.1.commit.x.5",            // attempt not a number
           "_INBOX.abc123.g.1.commit.1.5us",          // trailing garbage
           "_INBOX.abc123.g.99999999999.commit.1.5",  // branch out of range
       }) {
    InboundReply reply;
    int64_t sent_us = 0;
    EXPECT_FALSE(ParseReplySubject(bad, kInbox, &reply, &sent_us)) << bad;
  }
}

TEST(IsAnswerableReplySubject, OnlyAClientsOwnInbox) {
  EXPECT_TRUE(IsAnswerableReplySubject("_INBOX.client7.42", kInbox));
  EXPECT_TRUE(IsAnswerableReplySubject("_INBOX.abc1234.1", kInbox));  // another inbox's prefix
  EXPECT_TRUE(IsAnswerableReplySubject("replies.order-service.9", kInbox));
  for (const std::string& bad :
       {std::string(""), std::string("txc.participant.inventory.commit"),
        std::string("txc.coordinator.begin"), std::string(kInbox),
        std::string(kInbox) + ".g.1.prepare.1.5", std::string("$JS.API.STREAM.DELETE.orders"),
        std::string("$SYS.REQ.SERVER.PING"), std::string("_INBOX.*"), std::string("a.>")}) {
    EXPECT_FALSE(IsAnswerableReplySubject(bad, kInbox)) << bad;
  }
}

TEST(ValidateGid, AcceptsOneSubjectTokenOnly) {
  EXPECT_TRUE(ValidateGid("01a2080e64506cec963b5605c64b148b").ok());
  EXPECT_TRUE(ValidateGid("order-1_x").ok());
  for (const char* bad : {"", "a.b", "a*", "a>", "a b", "a\tb", "a\x7f"}) {
    Status s = ValidateGid(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace txc::transport
