#include "transport/reply_subject.h"

#include <array>
#include <cctype>
#include <charconv>

namespace txc::transport {
namespace {

template <typename T>
bool ParseNumber(std::string_view token, T* out) {
  if (token.empty()) return false;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), *out);
  return ec == std::errc() && end == token.data() + token.size() && *out >= 0;
}

}  // namespace

Status ValidateGid(std::string_view gid) {
  if (gid.empty()) return Status::InvalidArgument("gid is empty");
  for (char c : gid) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '.' || c == '*' || c == '>' || std::isspace(u) || u < 0x20 || u == 0x7f) {
      return Status::InvalidArgument("gid '" + std::string(gid) +
                                     "' contains a character not allowed in a NATS subject token");
    }
  }
  return Status::Ok();
}

std::string ReplySubject(std::string_view inbox, const wire::BranchRequest& request,
                         int64_t sent_us) {
  std::string subject(inbox);
  subject.append(".").append(request.gid);
  subject.append(".").append(std::to_string(request.branch));
  subject.append(".").append(wire::OpName(request.op));
  subject.append(".").append(std::to_string(request.attempt));
  subject.append(".").append(std::to_string(sent_us));
  return subject;
}

bool ParseReplySubject(std::string_view subject, std::string_view inbox, InboundReply* reply,
                       int64_t* sent_us) {
  if (subject.size() <= inbox.size() + 1 || subject.substr(0, inbox.size()) != inbox ||
      subject[inbox.size()] != '.') {
    return false;
  }
  std::string_view rest = subject.substr(inbox.size() + 1);
  std::array<std::string_view, 5> tokens;  // gid, branch, op, attempt, sent_us
  size_t n = 0;
  while (true) {
    const size_t dot = rest.find('.');
    if (n == tokens.size()) return false;
    tokens[n++] = rest.substr(0, dot);
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (n != tokens.size() || tokens[0].empty()) return false;
  const auto op = wire::ParseOp(tokens[2]);
  if (!op) return false;
  reply->gid = std::string(tokens[0]);
  reply->op = *op;
  return ParseNumber(tokens[1], &reply->branch) && ParseNumber(tokens[3], &reply->attempt) &&
         ParseNumber(tokens[4], sent_us);
}

bool IsAnswerableReplySubject(std::string_view reply, std::string_view inbox) {
  if (reply.empty() || reply.front() == '$' || reply.rfind("txc.", 0) == 0) return false;
  if (reply.find_first_of("*> \t\r\n") != std::string_view::npos) return false;
  return !(reply.size() > inbox.size() && reply.compare(0, inbox.size(), inbox) == 0 &&
           reply[inbox.size()] == '.') &&
         reply != inbox;
}

}  // namespace txc::transport
