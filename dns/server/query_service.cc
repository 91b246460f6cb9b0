#include "dns/server/query_service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <cstring>

#include "dns/wire/dns_constants.h"
#include "dns/wire/dns_name.h"

namespace dns {

QueryService::QueryService(unsigned worker, unsigned context, shared::MetricsRegistry* metrics,
                           const ServerMetricIds* ids)
    : worker_(worker), context_(context), metrics_(metrics), ids_(ids) {}

void QueryService::update(std::shared_ptr<const ZoneDb> db, std::shared_ptr<const ServiceSettings> settings) {
    db_ = std::move(db);
    settings_ = std::move(settings);
    // Off: no table at all. The answering thread calls this between queries, so the allocation is not on the path.
    rrl_.resize(settings_->rrl.enabled ? settings_->rrl.table_size : 0);
}

size_t QueryService::handle(const uint8_t* query, size_t len, uint8_t* out, size_t cap, bool tcp,
                            const sockaddr* client, AnswerInfo* info) noexcept {
    bool timed = (++timing_counter_ & (kTimingSample - 1)) == 0;
    uint64_t t0 = timed || settings_->rrl.enabled ? uv_hrtime() : 0;
    QueryContext ctx{tcp, client, context_};
    // TSIG and online DNSSEC signing need the wall clock; only a query with additional records (OPT, TSIG) can be
    // signed or ask for DNSSEC. Without keys every signed query is BADKEY, whose record echoes the request's time.
    if (len >= kHeaderSize && (query[10] | query[11]) &&
        (!settings_->engine.tsig_keys.empty() || settings_->engine.signed_zones)) {
        timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        ctx.now_s = static_cast<uint64_t>(ts.tv_sec);
        if (settings_->engine.signed_zones) ctx.signatures = &signatures_;
    }
    size_t n = answer_query(*db_, settings_->engine, ctx, query, len, out, cap, info);
    if (n && !tcp && settings_->rrl.enabled) {
        switch (rrl_.check(settings_->rrl, client, info->rcode, rrl_name_hash(query, *info), t0 / 1000000000ull)) {
        case RrlDecision::send:
            break;
        case RrlDecision::drop:
            if (metrics_) metrics_->inc(worker_, ids_->rate_limited);
            n = 0;
            info->kind = AnswerKind::dropped;
            break;
        case RrlDecision::slip: {
            if (metrics_) metrics_->inc(worker_, ids_->rate_limited);
            // TC set and no records, but OPT (RFC 6891 §6.1.1) and TSIG kept: the engine answers again so. The
            // client should retry over TCP (RFC 2181 §9).
            AnswerInfo tc_info;
            ctx.force_tc = true;
            n = answer_query(*db_, settings_->engine, ctx, query, len, out, cap, &tc_info);
            info->truncated = true;
            break;
        }
        }
    }
    if (metrics_) {
        auto& m = *metrics_;
        m.inc(worker_, tcp ? ids_->tcp : ids_->udp);
        if (info->kind == AnswerKind::dropped) {
            m.inc(worker_, ids_->dropped);
        } else if (info->kind == AnswerKind::answered) {
            size_t rc = info->rcode <= 5 ? info->rcode : ServerMetricIds::kRcodes;
            m.inc(worker_, ids_->by_rcode[rc]);
            if (info->truncated) m.inc(worker_, ids_->truncated);
        }
        size_t ti = std::size(ServerMetricIds::kTypes);
        for (size_t i = 0; i < std::size(ServerMetricIds::kTypes); i++)
            if (ServerMetricIds::kTypes[i] == info->qtype) ti = i;
        if (info->question_end) m.inc(worker_, ids_->by_qtype[ti]);
        if (timed) m.observe(worker_, ids_->latency, static_cast<double>(uv_hrtime() - t0) / 1e9);
    }
    if (settings_->query_log_fd >= 0 && ++log_counter_ >= settings_->query_log_sample) {
        log_counter_ = 0;
        log_query(query, len, tcp, client, *info);
    }
    return n;
}

uint64_t QueryService::rrl_name_hash(const uint8_t* query, const AnswerInfo& info) noexcept {
    // As BIND's, NSD's and Knot's RRL: answers are limited per name, so a flooded name does not starve a resolver's
    // other names; NXDOMAIN per zone and referrals per delegation (random names must not each get a budget);
    // other errors per client only.
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](uint8_t b) { h = (h ^ b) * 1099511628211ull; };
    if (!info.imputed_name.empty()) {
        for (char c : info.imputed_name)
            mix(static_cast<uint8_t>(c));
    } else if (info.rcode == rcode::NOERROR && info.question_end > kHeaderSize) {
        for (size_t i = kHeaderSize; i < info.question_end - 4; i++)
            mix(ascii_lower(query[i]));
        mix(static_cast<uint8_t>(info.qtype >> 8));
        mix(static_cast<uint8_t>(info.qtype));
    } else {
        return 0;
    }
    return h | 1;
}

void QueryService::log_query(const uint8_t* query, size_t len, bool tcp, const sockaddr* client,
                             const AnswerInfo& info) noexcept {
    char addr[INET6_ADDRSTRLEN] = "-";
    if (client && client->sa_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(client)->sin_addr, addr, sizeof addr);
    else if (client && client->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(client)->sin6_addr, addr, sizeof addr);
    // The name in presentation form without allocating: labels copied with dots, non-printables as '?'.
    char name[300] = ".";
    if (info.question_end > kHeaderSize) {
        size_t pos = kHeaderSize, o = 0;
        while (pos < len && query[pos] != 0 && o + 65 < sizeof name) {
            uint8_t l = query[pos];
            for (size_t i = 1; i <= l && pos + i < len; i++) {
                char c = static_cast<char>(query[pos + i]);
                name[o++] = (c > 0x20 && c < 0x7f) ? c : '?';
            }
            name[o++] = '.';
            pos += 1 + l;
        }
        if (o) name[o] = 0;
    }
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char line[512];
    int n = std::snprintf(line, sizeof line, "%lld.%03ld client=%s proto=%s qname=%s qtype=%s rcode=%s%s\n",
                          static_cast<long long>(ts.tv_sec), ts.tv_nsec / 1000000, addr, tcp ? "tcp" : "udp", name,
                          rrtype_label(info.qtype), rcode_label(info.rcode),
                          info.kind == AnswerKind::dropped ? " dropped=1" : "");
    if (n > 0) {
        ssize_t w = ::write(settings_->query_log_fd, line, static_cast<size_t>(std::min<int>(n, sizeof line - 1)));
        (void)w;
    }
}

} // namespace dns
