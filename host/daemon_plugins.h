/*
 * The plugin manager inside the daemon: the host's plugins (host.h,
 * loaded with it at start-up while readiness waits) reloaded with the
 * config (SIGHUP, POST /v1/admin/reload) and when a plugin's files
 * change, consulted for the area's escalation level on the host clock
 * (the escalation round, intake.h), and reported in /v1/health and
 * /metrics. A unit that joins the daemon from above through daemon.h
 * only: `caretide run` hands it to ct_daemon_run in the options.
 */
#ifndef CT_DAEMON_PLUGINS_H
#define CT_DAEMON_PLUGINS_H

#include "daemon.h"

extern const ct_daemon_unit ct_daemon_plugins_unit;

#endif
