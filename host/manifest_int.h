/*
 * What manifest.c and manifest_form.c share: forms of reference settings
 * (manifest_form.c) and look-ups in the area's ids. Not for other units.
 */
#ifndef CT_MANIFEST_INT_H
#define CT_MANIFEST_INT_H

#include "manifest.h"

#include <stdbool.h>
#include <stddef.h>

/* A reference found in a value: its kind and where it is in the value. */
typedef struct ct_ref_span {
    ct_ref_kind kind;
    size_t off, len;
} ct_ref_span;

const char *ct_ref_kind_name(ct_ref_kind k);
/* The kind named by s[0, len); -1 when none. */
int ct_ref_kind_parse(const char *s, size_t len, ct_ref_kind *out);

/* Compiles a form; on CT_EINVAL why says what is wrong with it. *out is
 * owned by the caller (ct_setting_form_free). */
int ct_setting_form_parse(const char *text, ct_setting_form **out,
                          char *why, size_t whylen);
void ct_setting_form_free(ct_setting_form *f);
/* The form as written; valid while f lives. */
const char *ct_setting_form_text(const ct_setting_form *f);
/* Whether value has the form: the number of references found (at most max
 * kept in refs), or -1. */
int ct_setting_form_match(const ct_setting_form *f, const char *value,
                          ct_ref_span *refs, size_t max);

bool ct_manifest_area_has(const ct_manifest_area *area, ct_ref_kind kind,
                          const char *id, size_t len);
/* The area's id of that kind closest to id, if close enough to suggest. */
const char *ct_manifest_area_suggest(const ct_manifest_area *area,
                                     ct_ref_kind kind, const char *id);

#endif
