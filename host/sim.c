/*
 * One simulated winter (sim.h): the host on a scratch store and a virtual
 * clock, simulated people moved through their life cycle by timers on that
 * clock, and the day's figures recorded at each UK midnight.
 */
#include "sim_int.h"

#include "capacity.h"
#include "clock.h"
#include "error.h"
#include "escalation.h"
#include "host.h"
#include "intake.h"
#include "isolation.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "referral.h"
#include "util.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
/* --- randomness --------------------------------------------------------- */

/* A 64-bit mix (the splitmix64 finaliser) of the stream's coordinates, so
 * that nearby seeds and indices give unrelated generator seeds. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

gsl_rng *ct_sim__stream(sim *s, int what, uint64_t a, uint64_t b)
{
    uint64_t k = mix(mix(mix(s->o->seed) ^ (uint64_t)what) ^ a) ^ b;
    gsl_rng_set(s->rng, (unsigned long)(mix(k) & 0xffffffffUL) | 1UL);
    return s->rng;
}

/* A duration in days from a uniform u in (0, 1) (inverse CDF). */
double ct_sim__draw(const ct_sim_dist *d, double u)
{
    if (u <= 0)
        u = 1e-12;
    if (u >= 1)
        u = 1 - 1e-12;
    switch (d->kind) {
    case CT_SIM_FIXED:
        return d->mean;
    case CT_SIM_EXPONENTIAL:
        return d->mean > 0 ? gsl_cdf_exponential_Pinv(u, d->mean) : 0;
    case CT_SIM_LOGNORMAL: {
        double s2 = log(1 + (d->sd * d->sd) / (d->mean * d->mean));
        return gsl_cdf_lognormal_Pinv(u, log(d->mean) - s2 / 2, sqrt(s2));
    }
    case CT_SIM_GAMMA: {
        double k = (d->mean * d->mean) / (d->sd * d->sd);
        return gsl_cdf_gamma_Pinv(u, k, d->mean / k);
    }
    }
    return d->mean;
}

int ct_sim__pick(const double *share, size_t n, size_t stride, double u)
{
    double acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += *(const double *)((const char *)share + i * stride);
        if (u < acc)
            return (int)i;
    }
    return n ? (int)n - 1 : 0;
}

/* --- names -------------------------------------------------------------- */

static int name_idx(sim *s, const char *name)
{
    ct_sim_run *r = s->run;
    for (size_t i = 0; i < r->nnames; i++)
        if (strcmp(r->names[i], name) == 0)
            return (int)i;
    char **g = realloc(r->names, (r->nnames + 1) * sizeof *g);
    if (!g)
        return -1;
    r->names = g;
    if (!(g[r->nnames] = strdup(name)))
        return -1;
    return (int)r->nnames++;
}

/* --- time --------------------------------------------------------------- */

int64_t ct_sim__now(sim *s)
{
    return ct_clock_now(s->clock);
}

/* The host clock time of hh:00 UK time on UK day day. */
int64_t ct_sim__uk_time(int64_t day, int hour)
{
    int64_t t = day * DAY_MS + hour * HOUR_MS;
    return t - ct_clock_uk_offset(t);
}

static void day_text(int64_t day, char out[11])
{
    ct_clock_day_text(day, out);
}

static bool recording(sim *s)
{
    return s->today >= s->first_day && s->today <= s->last_day;
}

/* --- the hub's list ----------------------------------------------------- */

static void wait_add(sim *s, person *p)
{
    p->st = P_WAITING;
    if (ct_grow(&s->wait, &s->cap_wait, s->nwait, sizeof *s->wait, 64)) {
        s->failed = CT_ENOMEM;
        return;
    }
    /* In order of arrival: the hub's first come, first served. */
    size_t i = s->nwait;
    while (i > 0 && s->wait[i - 1]->idx > p->idx) {
        s->wait[i] = s->wait[i - 1];
        i--;
    }
    s->wait[i] = p;
    s->nwait++;
    s->dirty = true;
}

static void wait_remove(sim *s, person *p)
{
    for (size_t i = 0; i < s->nwait; i++) {
        if (s->wait[i] == p) {
            memmove(s->wait + i, s->wait + i + 1,
                    (s->nwait - i - 1) * sizeof *s->wait);
            s->nwait--;
            return;
        }
    }
}

/* --- breaches ----------------------------------------------------------- */

static void stop(sim *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void stop(sim *s, const char *fmt, ...)
{
    if (s->run->stopped)
        return;
    ct_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char at[32];
    ct_clock_format(ct_sim__now(s), at, sizeof at);
    ct_buf_printf(&b, "%s: %s", at, msg);
    s->run->stopped = b.data;
    s->cur.breaches++;
}

/* The segregation rule asked again of the placement just made: a breach
 * stops the run naming the decision. */
static void check_placement(sim *s, person *p, const char *what,
                            const json_t *decision)
{
    ct_referral r;
    ct_cap_error err = {0};
    if (ct_referral_get(s->cap, p->referral, &r, &err) || !r.bed_id[0])
        return;
    if (ct_isolation_check(s->cap, p->nhs, r.bed_id, &err) == 0)
        return;
    char *dj = decision ? json_dumps(decision, JSON_COMPACT) : NULL;
    stop(s, "infection-segregation breach on %s of referral %lld into bed "
            "%s: %s; decision: %s",
         what, (long long)p->referral, r.bed_id, err.message,
         dj ? dj : "(none)");
    free(dj);
}

/* --- the life cycle ----------------------------------------------------- */

static void person_cb(ct_timer *t, void *data);

void ct_sim__at(person *p, int64_t when)
{
    if (when < ct_sim__now(p->s))
        when = ct_sim__now(p->s);
    ct_timer_start(&p->t, when, person_cb, p);
}

static void actor_of(char *out, size_t n, const char *org, const char *role)
{
    snprintf(out, n, "org:%s/%s", org, role);
}

/* The earliest the person may leave: their ready date, later when a delay
 * that is not the hub's holds them (11:00 UK time). */
static int64_t leave_at(const person *p)
{
    int64_t day = p->ready_day;
    if (p->other_reason >= 0 && p->other_until > day)
        day = p->other_until;
    return ct_sim__uk_time(day, 11);
}

static void decided(sim *s, person *p, const json_t *dec)
{
    const char *outcome = json_string_value(json_object_get(dec, "outcome"));
    s->run->decisions++;
    if (outcome && strcmp(outcome, "held") == 0) {
        p->st = P_HELD;
        const char *bed = json_string_value(json_object_get(dec, "bed"));
        check_placement(s, p, "hold", dec);
        ct_bed_info bi;
        ct_cap_error err = {0};
        p->kind = CT_FACILITY_CARE_HOME;
        if (bed && ct_capacity_bed(s->cap, bed, &bi, &err) == 0) {
            p->kind = (int)bi.kind;
            const ct_config_facility *f =
                ct_config_find_facility(s->cfg, bi.facility_id);
            ct_copy_str(p->bed_org, sizeof p->bed_org, f ? f->org : "");
        }
        /* Each hold is an attempt of its own: a hold that expires before
         * the provider answers is followed by a new answer time. */
        gsl_rng *r =
            ct_sim__stream(s, S_ATTEMPT, p->idx, (uint64_t)p->attempt++);
        double u = gsl_rng_uniform_pos(r);
        p->u_decline = gsl_rng_uniform(r);
        ct_sim__at(
            p,
            ct_sim__now(s) +
                (int64_t)(ct_sim__draw(&s->sc->providers[p->kind].response, u) *
                          DAY_MS));
    } else if (outcome && strcmp(outcome, "home") == 0) {
        p->st = P_HOME;
        ct_sim__at(p, leave_at(p));
    } else {
        wait_add(s, p);
    }
}

static void arrive(sim *s, person *p)
{
    char ready[11], actor[CT_CAP_ID_MAX + 32];
    day_text(p->ready_day, ready);
    const ct_sim_pathway *pw = &s->sc->pathways[p->pathway];
    const char *needs[CT_INTAKE_MAX_NEEDS];
    size_t nneeds = 0;
    char rneeds[sizeof p->rp->needs];
    if (p->rp) {
        ct_copy_str(rneeds, sizeof rneeds, p->rp->needs);
        for (char *t = strtok(rneeds, ","); t && nneeds < CT_INTAKE_MAX_NEEDS;
             t = strtok(NULL, ","))
            needs[nneeds++] = t;
    } else if (p->needs >= 0 && (size_t)p->needs < pw->nneeds)
        for (size_t i = 0; i < pw->needs[p->needs].ntags &&
                           nneeds < CT_INTAKE_MAX_NEEDS;
             i++)
            needs[nneeds++] = pw->needs[p->needs].tags[i];
    ct_intake_infection inf[8];
    size_t ninf = 0;
    for (size_t i = 0; i < s->sc->ninfections && i < 8; i++) {
        inf[ninf++] = (ct_intake_infection){
            s->sc->infections[i].pathogen,
            p->positive[i] ? CT_INFECTION_POSITIVE : CT_INFECTION_NEGATIVE,
            ct_sim__now(s) - 6 * HOUR_MS > 0 ? ct_sim__now(s) - 6 * HOUR_MS : 0,
            0};
    }
    ct_intake_request req = {
        .in = {.nhs_number = p->nhs,
               .age = p->age,
               .needs = needs,
               .nneeds = nneeds,
               .from_org = p->from,
               .ready_date = ready,
               .requested_pathway = p->pathway,
               .usual_residence = "home"},
        .inf = inf,
        .ninf = ninf,
    };
    actor_of(actor, sizeof actor, p->from, "hospital");
    ct_intake_result res = {0};
    ct_cap_error err = {0};
    int rc = ct_intake_referral(s->cap, s->pl, &req, actor, &res, &err);
    if (rc) {
        ct_log_warn("sim", "referral of person %zu refused at step %d "
                    "(%s): %s", p->idx, (int)res.step, res.field,
                    err.message);
        p->st = P_DONE;
        return;
    }
    s->run->referrals++;
    if (recording(s))
        s->cur.referrals++;
    p->referral = res.id;
    if ((size_t)res.id >= s->nbyref) {
        size_t n = s->nbyref ? s->nbyref * 2 : 1024;
        while (n <= (size_t)res.id)
            n *= 2;
        person **g = realloc(s->byref, n * sizeof *g);
        if (!g) {
            json_decref(res.decision);
            s->failed = CT_ENOMEM;
            return;
        }
        memset(g + s->nbyref, 0, (n - s->nbyref) * sizeof *g);
        s->byref = g;
        s->nbyref = n;
    }
    s->byref[res.id] = p;
    p->cur_reason = p->cur_org = -1;
    decided(s, p, res.decision);
    json_decref(res.decision);
}

static void answer(sim *s, person *p)
{
    ct_referral r;
    ct_cap_error err = {0};
    if (ct_referral_get(s->cap, p->referral, &r, &err) ||
        r.state != CT_REFERRAL_HELD) {
        /* The hold ended meanwhile (expired, zone closed): the host put
         * the referral back to waiting. */
        if (!err.code && r.state == CT_REFERRAL_WAITING)
            wait_add(s, p);
        return;
    }
    char actor[CT_CAP_ID_MAX + 32];
    actor_of(actor, sizeof actor, p->bed_org[0] ? p->bed_org : "provider",
             "provider");
    if (p->u_decline < s->sc->providers[p->kind].decline) {
        /* Not held while the decline's hold.released is heard (on_event). */
        p->st = P_DONE;
        if (ct_capacity_decline(s->cap, p->referral, p->bed_org,
                                "cannot meet the person's needs", actor,
                                &err) == 0)
            wait_add(s, p);
        else
            p->st = P_HELD;
        return;
    }
    if (ct_capacity_confirm(s->cap, p->referral, actor, NULL, &err)) {
        ct_log_warn("sim", "confirm of referral %lld: %s",
                    (long long)p->referral, err.message);
        wait_add(s, p);
        return;
    }
    check_placement(s, p, "confirm", NULL);
    p->st = P_PLACED;
    int64_t when = ct_sim__now(s) + 2 * HOUR_MS;
    if (when < leave_at(p))
        when = leave_at(p);
    ct_sim__at(p, when);
}

static void push_wait(sim *s, int pathway, double days)
{
    if (s->nday_waits[pathway] == s->cap_day_waits[pathway]) {
        size_t n = s->cap_day_waits[pathway] ? s->cap_day_waits[pathway] * 2
                                             : 32;
        double *g = realloc(s->day_waits[pathway], n * sizeof *g);
        if (!g)
            return;
        s->day_waits[pathway] = g;
        s->cap_day_waits[pathway] = n;
    }
    s->day_waits[pathway][s->nday_waits[pathway]++] = days;
}

static void discharge(sim *s, person *p)
{
    char actor[CT_CAP_ID_MAX + 32];
    actor_of(actor, sizeof actor, p->from, "hospital");
    ct_cap_error err = {0};
    if (ct_referral_discharge(s->cap, p->referral, actor, &err)) {
        ct_log_warn("sim", "discharge of referral %lld: %s",
                    (long long)p->referral, err.message);
        p->st = P_DONE;
        return;
    }
    int64_t delay = s->today - p->ready_day;
    if (delay < 0)
        delay = 0;
    if (recording(s)) {
        s->cur.discharges++;
        if (delay == 0)
            s->cur.on_ready_date++;
        push_wait(s, p->pathway, (double)delay);
    }
    bool bed = p->st == P_PLACED;
    p->st = P_OUT;
    if (!bed) {
        if (ct_referral_complete(s->cap, p->referral, actor, &err) == 0)
            p->st = P_DONE;
        return;
    }
    double days = ct_sim__draw(&s->sc->stay[p->kind], p->u_stay);
    ct_sim__at(p, ct_sim__now(s) + (int64_t)(days * DAY_MS));
}

static void complete(sim *s, person *p)
{
    char actor[CT_CAP_ID_MAX + 32];
    actor_of(actor, sizeof actor, p->bed_org[0] ? p->bed_org : "provider",
             "provider");
    ct_cap_error err = {0};
    if (ct_referral_complete(s->cap, p->referral, actor, &err))
        ct_log_warn("sim", "complete of referral %lld: %s",
                    (long long)p->referral, err.message);
    p->st = P_DONE;
    /* An onward move: a new referral from the setting the stay ends in. */
    gsl_rng *g = ct_sim__stream(s, S_ONWARD, p->idx, (uint64_t)p->onward);
    double u = gsl_rng_uniform(g), un = gsl_rng_uniform(g);
    int next = ct_sim__pick(&s->sc->onward[p->kind][1], CT_SIM_PATHWAYS - 1,
                            sizeof(double), u);
    double sum = 0;
    for (int i = 1; i < CT_SIM_PATHWAYS; i++)
        sum += s->sc->onward[p->kind][i];
    if (u >= sum || p->onward >= 3 || !p->bed_org[0])
        return;
    const ct_sim_pathway *pw = &s->sc->pathways[next + 1];
    p->onward++;
    p->pathway = next + 1;
    p->needs = pw->nneeds ? ct_sim__pick(&pw->needs[0].share, pw->nneeds,
                                         sizeof *pw->needs, un)
                          : -1;
    ct_copy_str(p->from, sizeof p->from, p->bed_org);
    p->bed_org[0] = '\0';
    p->rp = NULL;
    p->ready_day = s->today;
    p->other_reason = -1;
    p->attempt = 0;
    for (size_t i = 0; i < 8; i++)
        p->positive[i] = false;
    p->st = P_NEW;
    ct_sim__at(p, ct_sim__now(s) + HOUR_MS);
}

static void person_cb(ct_timer *t, void *data)
{
    (void)t;
    person *p = data;
    sim *s = p->s;
    if (s->run->stopped || s->failed)
        return;
    switch (p->st) {
    case P_NEW:
        arrive(s, p);
        break;
    case P_HELD:
        answer(s, p);
        break;
    case P_PLACED:
    case P_HOME:
        discharge(s, p);
        break;
    case P_OUT:
        complete(s, p);
        break;
    default:
        break;
    }
}

/* --- the hub ------------------------------------------------------------ */

static void hub_round(sim *s)
{
    int fails[CT_PATHWAY__COUNT + 1] = {0};
    person **list = s->nwait ? malloc(s->nwait * sizeof *list) : NULL;
    size_t n = s->nwait;
    if (n && !list) {
        s->failed = CT_ENOMEM;
        return;
    }
    if (n)
        memcpy(list, s->wait, n * sizeof *list);
    s->dirty = false;
    char actor[64];
    snprintf(actor, sizeof actor, "sim:hub");
    for (size_t i = 0; i < n && !s->run->stopped; i++) {
        person *p = list[i];
        if (p->st != P_WAITING)
            continue;
        int key = p->pathway >= 0 && p->pathway < CT_PATHWAY__COUNT
                      ? p->pathway
                      : CT_PATHWAY__COUNT;
        if (fails[key] >= SKIP_AFTER)
            continue;
        json_t *dec = NULL;
        ct_cap_error err = {0};
        int rc = ct_pipeline_decide(s->cap, s->pl, p->referral, actor, &dec,
                                    &err);
        if (rc) {
            /* Not waiting any more (cancelled by the host): drop it. */
            wait_remove(s, p);
            p->st = P_DONE;
            continue;
        }
        const char *outcome =
            json_string_value(json_object_get(dec, "outcome"));
        if (outcome && strcmp(outcome, "held") != 0 &&
            strcmp(outcome, "home") != 0) {
            fails[key]++;
            s->run->decisions++;
            json_decref(dec);
            continue;
        }
        fails[key] = 0;
        wait_remove(s, p);
        decided(s, p, dec);
        json_decref(dec);
    }
    free(list);
}

static void round_cb(ct_timer *t, void *data)
{
    sim *s = data;
    ct_timer_start(t, ct_sim__now(s) + ROUND_MS, round_cb, s);
    if (s->run->stopped || s->failed)
        return;
    if (s->dirty || ct_sim__now(s) - s->last_full_round >= FULL_ROUND_MS) {
        s->last_full_round = ct_sim__now(s);
        hub_round(s);
    }
}

static void escalate_cb(ct_timer *t, void *data)
{
    sim *s = data;
    ct_timer_start(t, ct_sim__now(s) + CT_INTAKE_ESCALATE_EVERY_MS, escalate_cb,
                   s);
    if (s->run->stopped || s->failed)
        return;
    if (ct_plugins_count(s->pl)) {
        json_t *out = NULL;
        ct_cap_error err = {0};
        if (ct_intake_escalate(s->cap, s->pl, &out, NULL, &err) == 0 && out) {
            json_int_t lv = json_integer_value(json_object_get(out, "level"));
            if (lv >= 1 && lv <= 4)
                s->level = (int)lv;
        }
        json_decref(out);
    }
    s->level_hours[s->level] +=
        (double)CT_INTAKE_ESCALATE_EVERY_MS / HOUR_MS;
}

static void on_event(const ct_capacity_event *ev, void *data)
{
    sim *s = data;
    const char *k = ev->kind;
    if (strcmp(k, "isolation.breach") == 0) {
        char *pj = json_dumps(ev->payload, JSON_COMPACT);
        stop(s, "infection-segregation breach reported by the host: %s",
             pj ? pj : "");
        free(pj);
        return;
    }
    /* The host's waiting list placed someone the hub was waiting to
     * re-try (issue 21: freed capacity goes down the list first): from
     * here on it is their hold like any other, answered by the provider. */
    if (strcmp(k, "hold.created") == 0 && ev->actor &&
        strcmp(ev->actor, "waiting-list") == 0) {
        json_int_t id = json_integer_value(json_object_get(ev->payload,
                                                           "referral"));
        person *p = id > 0 && (size_t)id < s->nbyref ? s->byref[id] : NULL;
        json_t *dec = json_pack("{s:s, s:O}", "outcome", "held", "bed",
                                json_object_get(ev->payload, "bed")
                                    ? json_object_get(ev->payload, "bed")
                                    : json_null());
        if (p && dec && p->st == P_WAITING) {
            wait_remove(s, p);
            decided(s, p, dec);
        }
        json_decref(dec);
    }
    if (strcmp(k, "hold.expired") == 0 || strcmp(k, "hold.released") == 0) {
        json_int_t id = json_integer_value(json_object_get(ev->payload,
                                                           "referral"));
        person *p = id > 0 && (size_t)id < s->nbyref ? s->byref[id] : NULL;
        if (p && p->st == P_HELD) {
            ct_timer_stop(&p->t);
            wait_add(s, p);
        }
    }
    if (strncmp(k, "hold.", 5) == 0 || strcmp(k, "referral.completed") == 0 ||
        strcmp(k, "referral.cancelled") == 0 ||
        strncmp(k, "surge.", 6) == 0 || strncmp(k, "zone.", 5) == 0 ||
        strncmp(k, "bed.", 4) == 0 || strcmp(k, "isolation.ended") == 0 ||
        strcmp(k, "escalation.changed") == 0)
        s->dirty = true;
}

/* --- delays ------------------------------------------------------------- */

/* The organisation that answers for a reason: the scenario's, the
 * referrer, or the first of the area the reason list accepts. */
static void record_delay(sim *s, person *p, const char *reason,
                         const char *resp, bool first)
{
    char from[11], actor[] = "sim:hub";
    day_text(p->ready_day, from);
    const char *orgs[64];
    size_t n = 0;
    if (resp && strcmp(resp, "referrer") == 0)
        orgs[n++] = p->from;
    else if (resp)
        orgs[n++] = resp;
    else
        for (size_t i = 0; i < s->cfg->norgs && n < 64; i++)
            orgs[n++] = s->cfg->orgs[i].id;
    for (size_t i = 0; i < n; i++) {
        ct_delay_input in = {reason, NULL, orgs[i], first ? from : NULL};
        const char *field = NULL;
        ct_cap_error err = {0};
        int rc = ct_intake_delay(s->cap, s->pl, p->referral, &in, actor,
                                 &field, &err);
        if (rc == 0) {
            p->cur_reason = name_idx(s, reason);
            p->cur_org = name_idx(s, orgs[i]);
            return;
        }
        if (!(rc == CT_EINVAL && field && strcmp(field, "responsible_org") ==
                                              0 && !resp))
            break;
    }
    p->cur_reason = name_idx(s, reason);
    p->cur_org = name_idx(s, "(not recorded)");
}

/* A hospital tests people again while they wait (care homes take a
 * result of the last 48 hours): a fresh negative for each pathogen the
 * person no longer isolates for, reported by the referring organisation as
 * a referral's results are. */
static void retest(sim *s, person *p)
{
    char actor[CT_CAP_ID_MAX + 32];
    actor_of(actor, sizeof actor, p->from, "hospital");
    for (size_t k = 0; k < s->sc->ninfections; k++) {
        const char *pathogen = s->sc->infections[k].pathogen;
        ct_infection inf;
        ct_cap_error err = {0};
        if (ct_isolation_get(s->cap, p->nhs, pathogen, &inf, &err) == 0 &&
            (inf.isolating || inf.tested_at > ct_sim__now(s) - DAY_MS))
            continue;
        ct_infection_update u = {p->nhs, pathogen, CT_INFECTION_NEGATIVE,
                                 ct_sim__now(s), 0};
        ct_isolation_report(s->cap, &u, p->from, p->referral, actor, NULL,
                            &err);
    }
}

/* At the start of day today: everyone still in hospital past their ready
 * date has the delay episode that says why; people waiting are tested
 * again. */
void ct_sim__update_delays(sim *s)
{
    for (size_t i = 0; i < s->npeople; i++) {
        person *p = s->people[i];
        if (p->st == P_WAITING)
            retest(s, p);
        if (p->st == P_NEW || p->st >= P_OUT || p->ready_day >= s->today)
            continue;
        const char *reason, *resp;
        if (p->other_reason >= 0 && s->today <= p->other_until) {
            reason = s->sc->reasons[p->other_reason].code;
            resp = s->sc->reasons[p->other_reason].responsible;
        } else {
            reason = s->sc->pathways[p->pathway].delay_reason;
            resp = s->sc->pathways[p->pathway].responsible;
        }
        if (p->cur_reason >= 0 &&
            strcmp(s->run->names[p->cur_reason], reason) == 0)
            continue;
        record_delay(s, p, reason, resp, p->cur_reason < 0);
    }
}

/* --- the run ------------------------------------------------------------ */

static int setup_sources(sim *s)
{
    const ct_sim_scenario *sc = s->sc;
    size_t n = sc->nfrom;
    if (!n)
        for (size_t f = 0; f < s->cfg->nfacilities; f++)
            n += s->cfg->facilities[f].kind == CT_FACILITY_ACUTE;
    s->from_orgs = calloc(n ? n : 1, sizeof *s->from_orgs);
    s->from_share = calloc(n ? n : 1, sizeof *s->from_share);
    if (!s->from_orgs || !s->from_share)
        return CT_ENOMEM;
    if (sc->nfrom) {
        for (size_t i = 0; i < n; i++) {
            s->from_orgs[i] = sc->from[i].org;
            s->from_share[i] = sc->from[i].share;
        }
    } else {
        for (size_t f = 0; f < s->cfg->nfacilities; f++)
            if (s->cfg->facilities[f].kind == CT_FACILITY_ACUTE)
                s->from_orgs[s->nfrom++] = s->cfg->facilities[f].org;
        for (size_t i = 0; i < s->nfrom; i++)
            s->from_share[i] = 1.0 / (double)s->nfrom;
    }
    s->nfrom = n;
    return n ? 0 : CT_ECONFIG;
}

int ct_sim_run_one(const ct_sim_options *o, ct_sim_run *out, ct_diags *d)
{
    memset(out, 0, sizeof *out);
    const ct_sim_scenario *sc = o->scenario;
    int rc = ct_sim_scenario_check(sc, o->cfg, d);
    if (rc)
        return rc;
    sim *s = calloc(1, sizeof *s);
    if (!s)
        return CT_ENOMEM;
    s->o = o;
    s->sc = sc;
    s->cfg = o->cfg;
    s->run = out;
    s->today = NO_DAY;
    s->level = 1;
    out->seed = o->seed;
    out->variant = strdup(o->variant ? o->variant : "base");
    out->days = calloc((size_t)sc->days, sizeof *out->days);
    s->rng = gsl_rng_alloc(gsl_rng_taus2);
    if (!out->variant || !out->days || !s->rng) {
        rc = CT_ENOMEM;
        goto done;
    }
    if ((rc = setup_sources(s)))
        goto done;
    s->first_day = sc->start_day;
    s->last_day = sc->start_day + sc->days - 1;
    int64_t begin = sc->start_day - sc->warmup_days;
    if ((rc = ct_store_open(":memory:", NULL, &s->store)) ||
        (rc = ct_clock_new_virtual(ct_sim__uk_time(begin, 0) - 1, &s->clock)))
        goto done;
    ct_timer_init(s->clock, &s->midnight);
    ct_timer_init(s->clock, &s->round);
    ct_timer_init(s->clock, &s->escalate);
    ct_host_hooks hooks = {.on_event = on_event, .event_data = s};
    if ((rc = ct_host_open(o->cfg, s->store, s->clock, 0, &hooks, &s->host,
                           d)))
        goto done;
    s->cap = ct_host_capacity(s->host);
    s->pl = ct_host_plugins(s->host);
    ct_timer_start(&s->midnight, ct_sim__uk_time(begin, 0), ct_sim__midnight_cb,
                   s);
    ct_timer_start(&s->round, ct_sim__uk_time(begin, 0) + 30 * 60000, round_cb,
                   s);
    ct_timer_start(&s->escalate,
                   ct_sim__uk_time(begin, 0) + CT_INTAKE_ESCALATE_EVERY_MS,
                   escalate_cb, s);
    int total = sc->warmup_days + sc->days;
    for (int i = 0; i <= total; i++) {
        /* Day begin + i starts; the last step records the last day. */
        int r2 = ct_clock_advance_to(s->clock, ct_sim__uk_time(begin + i, 0));
        if (r2 < 0) {
            rc = r2;
            break;
        }
        if (s->failed) {
            rc = s->failed;
            break;
        }
        if (o->progress)
            o->progress(o->progress_ud, out->variant, o->seed, i, total);
        if (out->stopped)
            break;
    }
done:
    if (s->clock) {
        ct_timer_stop(&s->midnight);
        ct_timer_stop(&s->round);
        ct_timer_stop(&s->escalate);
        for (size_t i = 0; i < s->npeople; i++)
            ct_timer_stop(&s->people[i]->t);
    }
    ct_host_close(s->host);
    if (s->clock)
        ct_clock_close(s->clock, NULL, NULL);
    ct_store_close(s->store);
    for (size_t i = 0; i < s->npeople; i++)
        free(s->people[i]);
    free(s->people);
    free(s->byref);
    free(s->wait);
    for (int p = 0; p < CT_SIM_PATHWAYS; p++)
        free(s->day_waits[p]);
    free(s->from_orgs);
    free(s->from_share);
    if (s->rng)
        gsl_rng_free(s->rng);
    free(s);
    if (rc)
        ct_sim_run_free(out);
    return rc;
}

void ct_sim_run_free(ct_sim_run *r)
{
    if (!r)
        return;
    free(r->variant);
    free(r->days);
    free(r->lost);
    for (size_t i = 0; i < r->nnames; i++)
        free(r->names[i]);
    free(r->names);
    for (int p = 0; p < CT_SIM_PATHWAYS; p++)
        free(r->waits[p]);
    free(r->stopped);
    memset(r, 0, sizeof *r);
}
