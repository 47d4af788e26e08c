/*
 * National identifiers that caretide carries so that partners' systems
 * and national returns recognise its organisations, places and people
 * (docs/fhir.md, docs/reports.md): the organisation code of the NHS
 * Organisation Data Service (ODS), the Care Quality Commission's location
 * id, and the URIs that name these identifier systems in FHIR UK Core.
 * Only the form is checked here: whether a code is issued is a question
 * for the ODS and CQC registers, not for the host.
 */
#ifndef CT_NATID_H
#define CT_NATID_H

#include <stdbool.h>

#define CT_NATID_ODS_SYSTEM "https://fhir.nhs.uk/Id/ods-organization-code"
#define CT_NATID_ODS_SITE_SYSTEM "https://fhir.nhs.uk/Id/ods-site-code"
#define CT_NATID_NHS_SYSTEM "https://fhir.nhs.uk/Id/nhs-number"
#define CT_NATID_CQC_SYSTEM "https://cqc.org.uk/location-id"

#define CT_NATID_ODS_MAX 10 /* the longest organisation code, characters */
#define CT_NATID_CQC_MAX 16 /* "1-" and up to 14 digits */

/*
 * An ODS organisation code: 3 to 10 upper-case letters and digits
 * (a trust "RXX", a site "RXX01", a practice "A81001", a council "608").
 */
bool ct_natid_ods_valid(const char *s);

/* A CQC location id: "1-" followed by 6 to 14 digits ("1-101674693"). */
bool ct_natid_cqc_valid(const char *s);

#endif
