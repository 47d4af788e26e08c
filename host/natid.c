/*
 * The forms of national identifiers (natid.h). Written out as character
 * tests rather than regular expressions: the rules are short and these
 * run on every config check and every FHIR identifier.
 */
#include "natid.h"

#include <string.h>

bool ct_natid_ods_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 3 || n > CT_NATID_ODS_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

bool ct_natid_cqc_valid(const char *s)
{
    if (!s || strncmp(s, "1-", 2) != 0)
        return false;
    size_t n = strlen(s + 2);
    if (n < 6 || n > CT_NATID_CQC_MAX - 2)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[2 + i] < '0' || s[2 + i] > '9')
            return false;
    return true;
}
