// Package incident is incident mode: an incident opened at a level (P0–P3)
// with a title, the notes, bundles and changes recorded while it is open,
// its timeline, and the postmortem skeleton written when it is closed.
//
// Incidents live in the state dir, one JSON file each under incidents/,
// written whole and atomically under one lock (Store), so the CLI and every
// session of a server share them; a Watcher lets a long-running process see
// one opened elsewhere within a second. Every change checks the caller's
// role (access.Check) and is audited; reading needs an identity, any role.
//
// The timeline (Timeline) merges what the incident recorded (opening,
// notes, bundles, alerts and checks that changed state, closing) with what
// other sources kept on their own, read when it is built: the audit log,
// the cluster's rollouts and Warning events, the alerts firing now and the
// error templates first seen in the window. A Recorder, run by the cockpit
// and `opsdeck serve`, records the alert and check changes while an
// incident is open.
package incident
