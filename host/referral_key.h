/*
 * Idempotency keys of referrals (the HTTP API's Idempotency-Key header):
 * an organisation's key names at most one referral (a unique index), and
 * the referral keeps the SHA-256 of the request that made it, so that the
 * same key sent again can be answered with the first result when the
 * request is the same, and refused when it differs.
 */
#ifndef CT_REFERRAL_KEY_H
#define CT_REFERRAL_KEY_H

#include "area.h"

#include <stdbool.h>
#include <stdint.h>

#define CT_REFERRAL_KEY_MAX 200 /* bytes of a key */

/*
 * The referral org made with key: 0 with *id, and the request's
 * fingerprint in sha with *has_sha (false for a referral made without
 * one); CT_ENOTFOUND (err not filled) when the key is unused.
 */
int ct_referral_key_find(ct_capacity *c, const char *org, const char *key,
                         int64_t *id, uint8_t sha[32], bool *has_sha,
                         ct_cap_error *err);

/* Records the fingerprint of the request that made referral id, inside
 * the caller's open transaction. */
int ct_referral_key_set_sha(ct_capacity *c, int64_t id, const uint8_t sha[32],
                            ct_cap_error *err);

#endif
