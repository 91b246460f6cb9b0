#include "edge/http/http_date.h"

#include <cstring>

namespace edge {
namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kLongDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar, no timegm() (which reads TZ state).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t y, unsigned m) {
    static constexpr unsigned kDim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : kDim[m - 1];
}

// A tiny cursor: every read checks bounds, failure is sticky.
class Cursor {
public:
    explicit Cursor(std::string_view s) : s_(s) {}
    bool lit(std::string_view t) {
        if (!ok_ || s_.substr(pos_, t.size()) != t) return ok_ = false;
        pos_ += t.size();
        return true;
    }
    // Exactly n digits.
    int digits(size_t n) {
        if (!ok_ || pos_ + n > s_.size()) {
            ok_ = false;
            return 0;
        }
        int v = 0;
        for (size_t i = 0; i < n; ++i) {
            char c = s_[pos_ + i];
            if (c < '0' || c > '9') {
                ok_ = false;
                return 0;
            }
            v = v * 10 + (c - '0');
        }
        pos_ += n;
        return v;
    }
    int one_of(const char* const* names, size_t count) {
        if (!ok_) return -1;
        for (size_t i = 0; i < count; ++i) {
            size_t len = std::strlen(names[i]);
            if (s_.substr(pos_, len) == names[i]) {
                pos_ += len;
                return static_cast<int>(i);
            }
        }
        ok_ = false;
        return -1;
    }
    bool peek(char c) const { return ok_ && pos_ < s_.size() && s_[pos_] == c; }
    bool done() const { return ok_ && pos_ == s_.size(); }
    bool ok() const { return ok_; }

private:
    std::string_view s_;
    size_t pos_ = 0;
    bool ok_ = true;
};

std::optional<int64_t> assemble(int64_t year, int month0, int day, int h, int mi, int sec, int wday) {
    if (month0 < 0 || month0 > 11 || day < 1 || static_cast<unsigned>(day) > days_in_month(year, month0 + 1)) {
        return std::nullopt;
    }
    // 60 is allowed for a leap second (RFC 9110 §5.6.7 grammar permits 00-60); it reads as the next second.
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
    int64_t days = days_from_civil(year, static_cast<unsigned>(month0 + 1), static_cast<unsigned>(day));
    // The day name is redundant; a wrong one still parses (recipients are lenient here, as nginx is).
    (void)wday;
    return days * 86400 + h * 3600 + mi * 60 + sec;
}

std::optional<int64_t> parse_time(Cursor& c, int* h, int* m, int* s) {
    *h = c.digits(2);
    c.lit(":");
    *m = c.digits(2);
    c.lit(":");
    *s = c.digits(2);
    return c.ok() ? std::optional<int64_t>(0) : std::nullopt;
}

} // namespace

std::optional<int64_t> parse_http_date(std::string_view s) {
    int h, mi, sec;
    if (s.size() == kHttpDateLen && s[3] == ',') { // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        Cursor c(s);
        int wday = c.one_of(kDays, 7);
        c.lit(", ");
        int day = c.digits(2);
        c.lit(" ");
        int mon = c.one_of(kMonths, 12);
        c.lit(" ");
        int year = c.digits(4);
        c.lit(" ");
        if (!parse_time(c, &h, &mi, &sec)) return std::nullopt;
        c.lit(" GMT");
        if (!c.done()) return std::nullopt;
        return assemble(year, mon, day, h, mi, sec, wday);
    }
    if (s.size() > 10 && s.find(',') != std::string_view::npos) { // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        Cursor c(s);
        int wday = c.one_of(kLongDays, 7);
        c.lit(", ");
        int day = c.digits(2);
        c.lit("-");
        int mon = c.one_of(kMonths, 12);
        c.lit("-");
        int yy = c.digits(2);
        c.lit(" ");
        if (!parse_time(c, &h, &mi, &sec)) return std::nullopt;
        c.lit(" GMT");
        if (!c.done()) return std::nullopt;
        // RFC 9110 §5.6.7 says a two-digit year more than 50 years in the future is in the past century; without a
        // clock here we use the fixed pivot 70 (the Unix epoch), which agrees with it until 2020+50.
        int64_t year = yy >= 70 ? 1900 + yy : 2000 + yy;
        return assemble(year, mon, day, h, mi, sec, wday);
    }
    if (s.size() == 24) { // asctime: Sun Nov  6 08:49:37 1994
        Cursor c(s);
        int wday = c.one_of(kDays, 7);
        c.lit(" ");
        int mon = c.one_of(kMonths, 12);
        c.lit(" ");
        int day;
        if (c.peek(' ')) {
            c.lit(" ");
            day = c.digits(1);
        } else {
            day = c.digits(2);
        }
        c.lit(" ");
        if (!parse_time(c, &h, &mi, &sec)) return std::nullopt;
        c.lit(" ");
        int year = c.digits(4);
        if (!c.done()) return std::nullopt;
        return assemble(year, mon, day, h, mi, sec, wday);
    }
    return std::nullopt;
}

void format_http_date(int64_t t, char* out) {
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    int64_t year;
    unsigned mon, day;
    civil_from_days(days, &year, &mon, &day);
    // 1970-01-01 was a Thursday.
    int wday = static_cast<int>(((days % 7) + 11) % 7);
    if (year < 0) year = 0;
    if (year > 9999) year = 9999;
    auto put2 = [](char* p, int v) {
        p[0] = static_cast<char>('0' + v / 10);
        p[1] = static_cast<char>('0' + v % 10);
    };
    std::memcpy(out, kDays[wday], 3);
    out[3] = ',';
    out[4] = ' ';
    put2(out + 5, static_cast<int>(day));
    out[7] = ' ';
    std::memcpy(out + 8, kMonths[mon - 1], 3);
    out[11] = ' ';
    put2(out + 12, static_cast<int>(year / 100));
    put2(out + 14, static_cast<int>(year % 100));
    out[16] = ' ';
    put2(out + 17, static_cast<int>(secs / 3600));
    out[19] = ':';
    put2(out + 20, static_cast<int>(secs / 60 % 60));
    out[22] = ':';
    put2(out + 23, static_cast<int>(secs % 60));
    std::memcpy(out + 25, " GMT", 4);
}

std::string format_http_date(int64_t unix_seconds) {
    std::string s(kHttpDateLen, '\0');
    format_http_date(unix_seconds, s.data());
    return s;
}

} // namespace edge
