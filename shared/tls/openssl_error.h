// OpenSSL's reason for the last failure on this thread, for error messages.
#pragma once

#include <string>

namespace shared {

// The oldest error on the thread's OpenSSL error queue as text ("unknown OpenSSL error" when empty); clears the queue
// (a stale entry would be taken for the next call's failure).
std::string openssl_reason();

} // namespace shared
