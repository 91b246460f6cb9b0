// The proxy's view of an origin fetch, with no event-loop type in it: the request, the callbacks that report the
// response, the handle that pauses, resumes or (by destruction) cancels it, and the client that starts fetches for
// a configured origin. OriginPool implements it over real connections; unit tests implement it with a fake origin.
//
// Thread: the worker loop that started the fetch.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "edge/config/edge_config.h"
#include "shared/http/http_error.h"
#include "shared/http/http_headers.h"
#include "shared/http/response_parser.h"

namespace edge {

using OriginError = shared::HttpError;

// A request to the origin. The proxy builds the headers (Host, Via, X-Forwarded-For, ...); the pool adds Host
// (the origin's host[:port]) only when it is missing, and Content-Length for the body.
struct OriginRequest {
    std::string method = "GET";
    std::string target = "/"; // path and query
    shared::HttpHeaders headers;
    std::string body;
};

// What the proxy hears back. Exactly one of on_complete / on_error ends a fetch that is not cancelled. Any
// callback may destroy the OriginStream; nothing runs on it afterwards. No callback runs from inside fetch().
struct OriginCallbacks {
    std::function<void(const shared::HttpResponseHead& head)> on_response_headers;
    // Optional: an interim (1xx, never 101) response before the final one, e.g. 103 Early Hints (RFC 8297).
    std::function<void(const shared::HttpResponseHead& head)> on_interim;
    // A body piece, valid only during the call. Return false to pause (as pause(); resume() to continue).
    std::function<bool(std::string_view data)> on_body;
    std::function<void()> on_complete;
    // Called before or after on_response_headers: after it, the body is incomplete and must not be stored.
    std::function<void(OriginError err)> on_error;
};

// A fetch in progress. Destroying it cancels the fetch: no callback runs afterwards.
class OriginStream {
  public:
    virtual ~OriginStream() = default;
    // Backpressure from a slow viewer: stop / restart reading from the origin.
    virtual void pause() = 0;
    virtual void resume() = 0;
};

// Starts fetches from the configured http origins (one worker's connection pools).
class OriginClient {
  public:
    virtual std::unique_ptr<OriginStream> fetch(const OriginConfig& origin, OriginRequest req, OriginCallbacks cb) = 0;

  protected:
    ~OriginClient() = default;
};

} // namespace edge
