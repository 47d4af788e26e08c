/*
 * The HTTP API, version 1 (docs/design.md): the route table with its role
 * matrix, and the daemon's own handlers (health, metrics, reload). The
 * handlers of other units (capacity, referrals, audit) are listed in the
 * same table so that who may do what is written in one place.
 *
 * A handler is `int fn(ct_http_req *req, void *app)` where app is the
 * ct_daemon; see http.h for replies, errors and validation helpers.
 */
#ifndef CT_API_H
#define CT_API_H

#include "http.h"

#include <stdio.h>

extern const ct_http_route ct_api_routes[];
extern const size_t ct_api_nroutes;

/* The FHIR façade's wire form for everything under /fhir/ (api_fhir.c):
 * application/fhir+json, errors as OperationOutcome. */
extern const ct_http_dialect ct_api_fhir_dialect;

/*
 * Prints the table, one route a line: METHOD PATTERN KIND then, for each
 * role in ct_role order, role=none|own|all ("public" instead of the roles
 * for routes that need no token). The integration tests iterate it.
 */
void ct_api_print_routes(FILE *out);

#endif
