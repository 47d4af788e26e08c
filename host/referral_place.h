/*
 * Where a referral's person is held or placed now, read from the capacity
 * view: the bed's facility and organisation. The FHIR Task names both
 * (ct_fhir_place), whether it is read through GET /fhir/R4/Task/{id}
 * (api_fhir.c) or sent by a notification (notify.c); this is the one
 * lookup both use.
 */
#ifndef CT_REFERRAL_PLACE_H
#define CT_REFERRAL_PLACE_H

#include "capacity.h"

#include <jansson.h>
#include <stddef.h>

/* The facility and organisation ids of referral's "bed" (a referral as
 * ct_referral_get_json gives it, borrowed) into fac and org, each of size
 * bytes; both "" when it has no bed or the bed cannot be read. */
void ct_referral_place(ct_capacity *cap, const json_t *referral, char *fac,
                       char *org, size_t size);

#endif
