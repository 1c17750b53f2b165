/*
 * lag_dashboard: the live dashboard's page (ops/lag/dashboard.html), compiled in by
 * the build (embed.cmake) so the binary serves it with nothing beside it.
 */
#ifndef LAG_DASHBOARD_H
#define LAG_DASHBOARD_H

#include <stddef.h>

extern const char lag_dashboard_html[]; /* NUL-terminated */
extern const size_t lag_dashboard_html_len; /* without the NUL */

#endif
