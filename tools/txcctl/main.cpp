// txcctl: start, list, show, abort and retry txc transactions from a shell, over the
// coordinator's REST API.
//
//   txcctl [--url URL] [--token T] [--json] start PROTOCOL PARTICIPANT[=PAYLOAD_JSON]...
//          [--timeout-ms N] [--no-wait] [--idempotency-key K]
//   txcctl [...] start -f FILE        the request body from FILE ("-": stdin)
//   txcctl [...] list [--state S] [--protocol P] [--needs-attention] [--limit N] [--cursor C]
//   txcctl [...] show ID
//   txcctl [...] abort ID [--reason TEXT]
//   txcctl [...] retry ID
//
// --url defaults to $TXC_URL, then http://127.0.0.1:8080; --token to $TXC_API_TOKEN.
// Exit status: 0 done; 1 the coordinator answered with an error (or is unreachable); 2 bad usage.
#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "usage: txcctl [--url URL] [--token T] [--json] COMMAND ...\n"
    "  start PROTOCOL PARTICIPANT[=PAYLOAD_JSON]... [--timeout-ms N] [--no-wait]\n"
    "        [--idempotency-key K]          start a 2pc, 3pc or saga transaction\n"
    "  start -f FILE                        the request body from FILE (- for stdin)\n"
    "  list [--state S] [--protocol P] [--needs-attention] [--limit N] [--cursor C]\n"
    "  show ID                              one transaction with each branch's attempts\n"
    "  abort ID [--reason TEXT]             abort a transaction with no commit decision yet\n"
    "                                       (a running saga is compensated)\n"
    "  retry ID                             re-send now what waits for a retry\n";

int Usage(const std::string& why) {
  std::cerr << "txcctl: " << why << "\n" << kUsage;
  return 2;
}

struct Options {
  std::string url;
  std::string token;
  bool raw_json = false;
};

struct Answer {
  int status = 0;  // 0: no answer
  json body;
  std::string error;  // transport error, or the API's error message
};

class Api {
 public:
  explicit Api(const Options& o) : client_(o.url), token_(o.token) {
    client_.set_connection_timeout(5);
    client_.set_read_timeout(120);  // ?wait=true answers when the transaction ends
  }

  Answer Call(const std::string& method, const std::string& path, const std::string& body = "",
              const httplib::Headers& extra = {}) {
    httplib::Headers headers = extra;
    if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
    auto res = method == "POST" ? client_.Post(path, headers, body, "application/json")
                                : client_.Get(path, headers);
    Answer a;
    if (!res) {
      a.error = "cannot reach the coordinator: " + httplib::to_string(res.error());
      return a;
    }
    a.status = res->status;
    a.body = json::parse(res->body, nullptr, false);
    if (a.status >= 400) {
      a.error =
          a.body.is_object() && a.body.contains("error")
              ? a.body["error"].value("code", "") + ": " + a.body["error"].value("message", "")
              : "HTTP " + std::to_string(a.status);
    }
    return a;
  }

 private:
  httplib::Client client_;
  std::string token_;
};

std::string Query(const std::map<std::string, std::string>& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    q += (q.empty() ? "?" : "&") + k + "=" + httplib::detail::encode_query_param(v);
  }
  return q;
}

void PrintTransaction(const json& tx, bool with_history) {
  std::cout << tx.value("id", "") << "  " << tx.value("protocol", "") << "  "
            << tx.value("state", "")
            << (tx.value("needs_attention", false) ? "  NEEDS ATTENTION" : "") << "\n";
  if (!tx.value("reason", "").empty()) std::cout << "  reason:  " << tx.value("reason", "") << "\n";
  std::cout << "  created: " << tx.value("created_at", "")
            << "  updated: " << tx.value("updated_at", "") << "\n";
  for (const json& b : tx.value("branches", json::array())) {
    std::cout << "  [" << b.value("index", 0) << "] " << b.value("participant", "") << "  "
              << b.value("state", "") << "  attempts " << b.value("attempts", 0);
    if (b.value("needs_attention", false)) std::cout << "  needs attention";
    if (!b.value("last_error", "").empty())
      std::cout << "  last error: " << b.value("last_error", "");
    std::cout << "\n";
    if (!with_history) continue;
    for (const json& a : b.value("history", json::array())) {
      std::cout << "      " << a.value("at", "") << "  " << a.value("op", "") << " #"
                << a.value("attempt", 0) << "  " << a.value("result", "");
      if (a.value("latency_us", 0) > 0) std::cout << "  " << a.value("latency_us", 0) << " us";
      if (!a.value("error", "").empty()) std::cout << "  " << a.value("error", "");
      std::cout << "\n";
    }
  }
  if (!with_history || !tx.contains("events")) return;
  std::cout << "  events:\n";
  for (const json& e : tx["events"]) {
    std::cout << "      " << e.value("at", "") << "  " << e.value("kind", "");
    if (e.contains("state")) std::cout << " " << e.value("state", "");
    if (e.contains("branch")) std::cout << " [" << e.value("branch", 0) << "]";
    if (!e.value("reason", "").empty()) std::cout << "  " << e.value("reason", "");
    std::cout << "\n";
  }
}

// The error on stderr (exit 1), or the answer: as JSON with --json, else through `print`.
int Report(const Answer& a, const Options& o, const std::function<void(const json&)>& print) {
  if (!a.error.empty()) {
    std::cerr << "txcctl: " << a.error << "\n";
    return 1;
  }
  if (o.raw_json) {
    std::cout << a.body.dump(2) << "\n";
  } else {
    print(a.body);
  }
  return 0;
}

int Start(Api& api, const Options& o, const std::vector<std::string>& args) {
  std::string body;
  bool wait = true;
  std::string key;
  if (args.size() == 2 && args[0] == "-f") {
    std::ifstream file;
    if (args[1] != "-") {
      file.open(args[1]);
      if (!file) return Usage("cannot read " + args[1]);
    }
    std::istream& in = args[1] == "-" ? std::cin : file;
    body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    if (args.empty()) return Usage("start needs a protocol");
    json request = {{"protocol", args[0]}, {"branches", json::array()}};
    for (size_t i = 1; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "--no-wait") {
        wait = false;
      } else if ((a == "--timeout-ms" || a == "--idempotency-key") && i + 1 < args.size()) {
        const std::string v = args[++i];
        if (a == "--idempotency-key") {
          key = v;
        } else {
          char* end = nullptr;
          const long ms = std::strtol(v.c_str(), &end, 10);
          if (v.empty() || *end != '\0') return Usage("--timeout-ms takes a number");
          request["timeout_ms"] = ms;
        }
      } else if (a.rfind("--", 0) == 0) {
        return Usage("unknown option " + a);
      } else {
        json branch = {{"participant", a.substr(0, a.find('='))}};
        if (const auto eq = a.find('='); eq != std::string::npos) {
          branch["payload"] = json::parse(a.substr(eq + 1), nullptr, false);
          if (branch["payload"].is_discarded())
            return Usage("the payload of " + a + " is not JSON");
        }
        request["branches"].push_back(branch);
      }
    }
    if (request["branches"].empty()) return Usage("start needs at least one participant");
    body = request.dump();
  }
  httplib::Headers headers;
  if (!key.empty()) headers.emplace("Idempotency-Key", key);
  const Answer a =
      api.Call("POST", wait ? "/v1/transactions?wait=true" : "/v1/transactions", body, headers);
  return Report(a, o, [](const json& tx) { PrintTransaction(tx, false); });
}

void PrintPage(const json& page) {
  std::printf("%-34s %-5s %-14s %-25s %s\n", "ID", "PROTO", "STATE", "CREATED", "PARTICIPANTS");
  for (const json& tx : page.value("items", json::array())) {
    std::string participants;
    for (const json& b : tx.value("branches", json::array())) {
      if (!participants.empty()) participants += ',';
      participants += b.value("participant", "");
    }
    std::printf("%-34s %-5s %-14s %-25s %s\n", tx.value("id", "").c_str(),
                tx.value("protocol", "").c_str(), tx.value("state", "").c_str(),
                tx.value("created_at", "").c_str(), participants.c_str());
  }
  if (page.contains("next_cursor") && page["next_cursor"].is_string()) {
    std::printf("more: txcctl list --cursor %s\n", page["next_cursor"].get<std::string>().c_str());
  }
}

int List(Api& api, const Options& o, const std::vector<std::string>& args) {
  std::map<std::string, std::string> params;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--state" || a == "--protocol" || a == "--limit" || a == "--cursor") &&
        i + 1 < args.size()) {
      params[a.substr(2)] = args[++i];
    } else if (a == "--needs-attention") {
      params["needs_attention"] = "true";
    } else {
      return Usage("unknown list option " + a);
    }
  }
  const Answer a = api.Call("GET", "/v1/transactions" + Query(params));
  return Report(a, o, PrintPage);
}

int Show(Api& api, const Options& o, const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("show takes one transaction id");
  const Answer a = api.Call("GET", "/v1/transactions/" + args[0]);
  return Report(a, o, [](const json& tx) { PrintTransaction(tx, true); });
}

int Abort(Api& api, const Options& o, const std::vector<std::string>& args) {
  if (args.empty()) return Usage("abort takes a transaction id");
  json body = json::object();
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--reason" && i + 1 < args.size()) {
      body["reason"] = args[++i];
    } else {
      return Usage("unknown abort option " + args[i]);
    }
  }
  const Answer a = api.Call("POST", "/v1/transactions/" + args[0] + "/abort", body.dump());
  return Report(a, o, [](const json& tx) { PrintTransaction(tx, false); });
}

int Retry(Api& api, const Options& o, const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("retry takes one transaction id");
  const Answer a = api.Call("POST", "/v1/transactions/" + args[0] + "/retry");
  return Report(a, o, [](const json& tx) { PrintTransaction(tx, false); });
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  const char* env_url = std::getenv("TXC_URL");
  const char* env_token = std::getenv("TXC_API_TOKEN");
  o.url = env_url && *env_url ? env_url : "http://127.0.0.1:8080";
  o.token = env_token ? env_token : "";
  int i = 1;
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--url" && i + 1 < argc) {
      o.url = argv[++i];
    } else if (a == "--token" && i + 1 < argc) {
      o.token = argv[++i];
    } else if (a == "--json") {
      o.raw_json = true;
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      break;
    }
  }
  if (i >= argc) return Usage("no command");
  const std::string command = argv[i];
  const std::vector<std::string> args(argv + i + 1, argv + argc);
  try {
    Api api(o);
    if (command == "start") return Start(api, o, args);
    if (command == "list") return List(api, o, args);
    if (command == "show") return Show(api, o, args);
    if (command == "abort") return Abort(api, o, args);
    if (command == "retry") return Retry(api, o, args);
  } catch (const std::exception& e) {  // a malformed --url, for one
    std::cerr << "txcctl: " << e.what() << "\n";
    return 1;
  }
  return Usage("unknown command " + command);
}
