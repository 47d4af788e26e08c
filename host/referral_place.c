/* A referral's place for the FHIR Task (referral_place.h). */
#include "referral_place.h"

#include "capacity_view.h"

#include <stdio.h>

void ct_referral_place(ct_capacity *cap, const json_t *referral, char *fac,
                       char *org, size_t size)
{
    fac[0] = org[0] = '\0';
    const char *bed = json_string_value(json_object_get(referral, "bed"));
    if (!bed)
        return;
    ct_bed_filter f = {.bed_id = bed, .status = -1, .limit = 1};
    json_t *beds = NULL;
    ct_cap_error e = {0};
    if (ct_capacity_view_beds_json(cap, &f, &beds, &e) == 0) {
        json_t *b = json_array_get(beds, 0);
        const char *bf = json_string_value(json_object_get(b, "facility"));
        const char *bo = json_string_value(json_object_get(b, "org"));
        snprintf(fac, size, "%s", bf ? bf : "");
        snprintf(org, size, "%s", bo ? bo : "");
    }
    json_decref(beds);
}
